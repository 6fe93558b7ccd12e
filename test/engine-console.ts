/**
 * A console for recovery tests, run as its own process so a test can kill it with SIGKILL:
 * opens a PGlite data folder (or, as one of several replicas, a PostgreSQL database), serves the
 * agent routes, runs the reconciler, and prints every migration state change it hears on its bus
 * as a JSON line (with PostgreSQL, also those other replicas made). SIGTERM stops it cleanly.
 *
 *   node --conditions=react-server --import tsx test/engine-console.ts --data-dir DIR --port N
 *   node --conditions=react-server --import tsx test/engine-console.ts --database-url URL [--port N]
 */
import { parseArgs } from 'node:util';
import { openDatabase } from '@/db/open';
import { engineInstanceId, expireLeasesOfDeadOwners } from '@/server/engine/lease';
import { startReconciler } from '@/server/engine/reconciler';
import { bus } from '@/server/events/bus';
import { startBusRelay } from '@/server/events/pg-notify';
import { agentRouteTable } from '@/server/fleet/agent-routes';
import { startConsoleServer } from './console-server';

const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, 'database-url': { type: 'string' }, port: { type: 'string' }, 'interval-ms': { type: 'string' } } });
const databaseUrl = values['database-url'];
if (databaseUrl ? values['data-dir'] : !values['data-dir'] || !values.port) {
  throw new Error('usage: engine-console.ts (--data-dir DIR --port N | --database-url URL [--port N]) [--interval-ms MS]');
}

const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const opened = await openDatabase(databaseUrl ? { url: databaseUrl } : { dataDir: values['data-dir']! });
const relay = opened.notifications ? await startBusRelay(opened) : undefined;
const server = await startConsoleServer(agentRouteTable(opened.db), Number(values.port ?? 0));
const stopped = new AbortController();
void (async () => {
  for await (const change of bus.listen('migration', stopped.signal)) print({ msg: 'migration', id: change.id, state: change.state, message: change.event.message });
})();
// As server/boot.ts does for the embedded database: the previous console on this folder is dead.
// Replicas on PostgreSQL cannot know that of each other; they wait for leases to expire.
if (!databaseUrl) await expireLeasesOfDeadOwners(opened.db);
const stopReconciler = startReconciler(opened.db, Number(values['interval-ms'] ?? 250));
print({ msg: 'ready', url: server.url, owner: engineInstanceId, replicaId: relay?.replicaId });

process.once('SIGTERM', () => {
  void (async () => {
    await stopReconciler();
    await relay?.stop();
    stopped.abort();
    await server.close();
    await opened.close();
    print({ msg: 'stopped' });
    process.exit(0);
  })();
});
