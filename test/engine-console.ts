/**
 * A console for recovery tests, run as its own process so a test can kill it with SIGKILL:
 * opens a PGlite data folder, serves the agent routes on a fixed port, runs the reconciler, and
 * prints every migration state change as a JSON line. SIGTERM stops it cleanly.
 *
 *   node --conditions=react-server --import tsx test/engine-console.ts --data-dir DIR --port N
 */
import { parseArgs } from 'node:util';
import { openDatabase } from '@/db/open';
import { expireLeasesOfDeadOwners } from '@/server/engine/lease';
import { startReconciler } from '@/server/engine/reconciler';
import { bus } from '@/server/events/bus';
import { agentRoutes } from '@/server/fleet/agent-routes';
import { startConsoleServer } from './console-server';

const { values } = parseArgs({ options: { 'data-dir': { type: 'string' }, port: { type: 'string' }, 'interval-ms': { type: 'string' } } });
if (!values['data-dir'] || !values.port) throw new Error('usage: engine-console.ts --data-dir DIR --port N [--interval-ms MS]');

const print = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const opened = await openDatabase({ dataDir: values['data-dir'] });
const routes = agentRoutes(opened.db);
const server = await startConsoleServer({ 'POST /api/agent/v1/enrol': routes.handleEnrol, 'POST /api/agent/v1/heartbeat': routes.handleHeartbeat }, Number(values.port));
const stopped = new AbortController();
void (async () => {
  for await (const change of bus.listen('migration', stopped.signal)) print({ msg: 'migration', id: change.id, state: change.state, message: change.event.message });
})();
// As server/boot.ts does for the embedded database: the previous console on this folder is dead.
await expireLeasesOfDeadOwners(opened.db);
const stopReconciler = startReconciler(opened.db, Number(values['interval-ms'] ?? 250));
print({ msg: 'ready', url: server.url });

process.once('SIGTERM', () => {
  void (async () => {
    await stopReconciler();
    stopped.abort();
    await server.close();
    await opened.close();
    print({ msg: 'stopped' });
    process.exit(0);
  })();
});
