import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { HEARTBEAT_INTERVAL_MS } from '../protocol/agent-api';

export interface AgentOptions {
  consoleUrl: string;
  dataDir: string;
  token?: string;
  listenHost: string;
  listenPort: number;
  hostname: string;
  advertiseUrl?: string;
  heartbeatIntervalMs: number;
  /** NBD on loopback TCP too (the Unix socket `nbd.sock` in the data folder is always there). */
  nbdListen?: { host: string; port: number };
}

/** A command line or environment the agent cannot start with; main.ts prints it and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export const usage = `usage: npm run agent -- --console URL --data-dir DIR [--token T] [--listen HOST:PORT]
                        [--hostname NAME] [--advertise URL]
Every flag has an environment variable too; see docs/agent.md.`;

/** Flags win over environment variables. */
export function parseAgentOptions(argv: string[], env: Record<string, string | undefined>): AgentOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        console: { type: 'string' },
        'data-dir': { type: 'string' },
        token: { type: 'string' },
        listen: { type: 'string' },
        hostname: { type: 'string' },
        'nbd-listen': { type: 'string' },
        advertise: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const consoleUrl = values.console ?? env.TERN_CONSOLE_URL;
  if (!consoleUrl) throw new UsageError('the console URL is missing: pass --console URL or set TERN_CONSOLE_URL');
  if (!URL.canParse(consoleUrl)) throw new UsageError(`--console ${consoleUrl} is not a URL; expected e.g. http://127.0.0.1:3000`);
  const dataDir = values['data-dir'] ?? env.TERN_AGENT_DATA_DIR;
  if (!dataDir) throw new UsageError('the data folder is missing: pass --data-dir DIR or set TERN_AGENT_DATA_DIR');
  const advertiseUrl = values.advertise ?? env.TERN_AGENT_URL;
  if (advertiseUrl !== undefined && !URL.canParse(advertiseUrl)) throw new UsageError(`--advertise ${advertiseUrl} is not a URL`);
  const { host, port } = parseListen(values.listen ?? env.TERN_AGENT_LISTEN ?? '127.0.0.1:0');
  const heartbeatIntervalMs = Number(env.TERN_AGENT_HEARTBEAT_INTERVAL_MS ?? HEARTBEAT_INTERVAL_MS);
  if (!Number.isInteger(heartbeatIntervalMs) || heartbeatIntervalMs < 100) {
    throw new UsageError(`TERN_AGENT_HEARTBEAT_INTERVAL_MS must be an integer of at least 100, not ${env.TERN_AGENT_HEARTBEAT_INTERVAL_MS}`);
  }
  return {
    consoleUrl: consoleUrl.replace(/\/+$/, ''),
    dataDir: path.resolve(dataDir),
    token: values.token ?? (env.TERN_ENROL_TOKEN || undefined),
    listenHost: host,
    listenPort: port,
    hostname: values.hostname ?? env.TERN_AGENT_HOSTNAME ?? os.hostname(),
    advertiseUrl,
    heartbeatIntervalMs,
    nbdListen: (values['nbd-listen'] ?? env.TERN_AGENT_NBD_LISTEN) ? parseListen(values['nbd-listen'] ?? env.TERN_AGENT_NBD_LISTEN ?? '') : undefined,
  };
}

/** `HOST:PORT`, `[v6]:PORT` or `:PORT` (all interfaces). */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value);
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new UsageError(`--listen ${value} is not HOST:PORT (e.g. 127.0.0.1:0; port 0 picks a free port)`);
  return { host: match[1] ?? (match[2] || '0.0.0.0'), port };
}
