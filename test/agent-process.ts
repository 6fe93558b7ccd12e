/**
 * Spawns real agent processes (`node --import tsx server/agent/main.ts`) for integration tests,
 * parses their JSON log lines, and kills whatever is still running at the end of a test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface AgentLogLine {
  t: string;
  level: string;
  msg: string;
  [field: string]: unknown;
}

export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface AgentProcess {
  child: ChildProcess;
  dataDir: string;
  lines: AgentLogLine[];
  /** Everything the process wrote, stdout and stderr, for secret-leak checks and failure messages. */
  output(): string;
  waitForLog(predicate: (line: AgentLogLine) => boolean, timeoutMs?: number): Promise<AgentLogLine>;
  exited: Promise<AgentExit>;
  isRunning(): boolean;
  stop(signal?: NodeJS.Signals): Promise<AgentExit>;
}

export interface SpawnAgentOptions {
  consoleUrl: string;
  dataDir: string;
  token?: string;
  hostname?: string;
  heartbeatIntervalMs?: number;
  args?: string[];
}

const running = new Set<AgentProcess>();
const root = fileURLToPath(new URL('..', import.meta.url));

export function spawnAgent(options: SpawnAgentOptions): AgentProcess {
  const args = ['--import', 'tsx', 'server/agent/main.ts', '--console', options.consoleUrl, '--data-dir', options.dataDir];
  if (options.token) args.push('--token', options.token);
  if (options.hostname) args.push('--hostname', options.hostname);
  args.push(...(options.args ?? []));
  const env: NodeJS.ProcessEnv = { ...process.env, TERN_AGENT_HEARTBEAT_INTERVAL_MS: String(options.heartbeatIntervalMs ?? 500) };
  for (const name of ['TERN_CONSOLE_URL', 'TERN_AGENT_DATA_DIR', 'TERN_ENROL_TOKEN', 'TERN_AGENT_LISTEN', 'TERN_AGENT_HOSTNAME', 'TERN_AGENT_URL']) delete env[name];
  const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: AgentLogLine[] = [];
  const waiters = new Set<() => void>();
  let text = '';
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    pending += chunk;
    const complete = pending.split('\n');
    pending = complete.pop() ?? '';
    for (const line of complete) {
      try {
        lines.push(JSON.parse(line) as AgentLogLine);
      } catch {
        lines.push({ t: '', level: 'raw', msg: line });
      }
    }
    for (const wake of waiters) wake();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
  });
  let done = false;
  const exited = new Promise<AgentExit>((resolve) =>
    child.once('exit', (code, signal) => {
      done = true;
      running.delete(agent);
      for (const wake of waiters) wake();
      resolve({ code, signal });
    }),
  );
  const agent: AgentProcess = {
    child,
    dataDir: options.dataDir,
    lines,
    output: () => text,
    exited,
    isRunning: () => !done,
    waitForLog(predicate, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = lines.find(predicate);
          if (found) finish(() => resolve(found));
          else if (done) finish(() => reject(new Error(`agent exited before the expected log line; output:\n${text}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no expected log line within ${timeoutMs} ms; output:\n${text}`))), timeoutMs);
        const finish = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        waiters.add(check);
        check();
      });
    },
    async stop(signal = 'SIGTERM') {
      if (!done) child.kill(signal);
      return exited;
    },
  };
  running.add(agent);
  return agent;
}

/** For afterEach/afterAll: SIGKILL every agent this test file started that is still running. */
export async function killAllAgents(): Promise<void> {
  await Promise.all([...running].map((agent) => agent.stop('SIGKILL')));
}
