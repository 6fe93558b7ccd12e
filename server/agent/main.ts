/**
 * Tern host agent: `npm run agent -- [flags]`, i.e. `node --import tsx server/agent/main.ts`.
 * Every flag has an environment variable; a flag wins over its variable.
 *
 *   --console URL       TERN_CONSOLE_URL      the console agents report to (required)
 *   --data-dir DIR      TERN_AGENT_DATA_DIR   identity, LUNs and volume configuration (required)
 *   --token T           TERN_ENROL_TOKEN      one-time enrolment token; needed only until enrolled
 *   --listen HOST:PORT  TERN_AGENT_LISTEN     API address, default 127.0.0.1:0 (port 0 picks one)
 *   --hostname NAME     TERN_AGENT_HOSTNAME   name to enrol under, default os.hostname()
 *   --advertise URL     TERN_AGENT_URL        URL reported to the console instead of the listen address
 *                       TERN_AGENT_HEARTBEAT_INTERVAL_MS  default HEARTBEAT_INTERVAL_MS (tests shorten it)
 *
 * `npm run agent -- migrate …` moves one volume without the console; see migrate-command.ts.
 *
 * Exit codes: 0 stopped by SIGTERM/SIGINT; 1 unexpected failure; 2 bad flags, or not enrolled and
 * no token; 3 the console refused enrolment (bad, used, expired or revoked token, hostname taken).
 * Logs are one JSON object per line on stdout. docs/agent.md has the details.
 */
import { readFileSync } from 'node:fs';
import { EnrolmentRefused } from './enrol';
import { createLogger } from './log';
import { migrateCommand } from './migrate-command';
import { parseAgentOptions, usage, UsageError } from './options';
import { NotEnrolledError, runAgent } from './run-agent';

const log = createLogger();
const packageJson = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

async function main() {
  if (process.argv[2] === 'migrate') {
    const status = await migrateCommand(process.argv.slice(3), process.env, createLogger(() => undefined), (line) => process.stdout.write(`${line}\n`));
    process.exit(status.phase === 'committed' || status.phase === 'verified' ? 0 : 1);
  }
  const options = parseAgentOptions(process.argv.slice(2), process.env);
  const abort = new AbortController();
  const started = runAgent(options, packageJson.version, log, abort.signal);
  let stopping = false;
  const shutdown = (signalName: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal: signalName });
    abort.abort();
    started
      .then((agent) => agent.stop(), () => undefined)
      .then(() => {
        log.info('stopped');
        process.exit(0);
      })
      .catch((error: unknown) => {
        log.error('stop failed', { error: (error as Error).message });
        process.exit(1);
      });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  // Background bookkeeping (a state file, a checkpoint) can fail, e.g. on a full data disk. The
  // agent keeps serving its volumes and says so: every write an application waits for is
  // awaited on its own path and answered with its error, so nothing acknowledged depends on it.
  process.on('unhandledRejection', (error) => log.error('background task failed; the agent keeps running', { error: error instanceof Error ? error.message : String(error) }));
  await started;
}

main().catch((error: unknown) => {
  if (error instanceof Error && error.name === 'AbortError') process.exit(0);
  if (error instanceof UsageError) {
    log.error(error.message, { usage });
    process.exit(2);
  }
  if (error instanceof NotEnrolledError) {
    log.error(error.message);
    process.exit(2);
  }
  if (error instanceof EnrolmentRefused) {
    log.error(`the console refused enrolment: ${error.message}`, { status: error.status, code: error.code });
    process.exit(3);
  }
  log.error(`agent failed: ${(error as Error).message}`);
  process.exit(1);
});
