import 'server-only';
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { logger } from '@/server/log';

/** The demo's agent processes, on `globalThis` so every module graph of the console sees them. */
const holder = globalThis as unknown as { ternDemoAgents?: Map<string, ChildProcess> };
const agents = (holder.ternDemoAgents ??= new Map());

let exitHookInstalled = false;
function stopAllOnExit() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // The demo's agents belong to this console: stop them when it exits, however it exits.
  process.on('exit', () => {
    for (const child of agents.values()) child.kill('SIGTERM');
  });
}

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops an agent a previous console left running on this folder (after a `kill -9`, say). */
async function stopLeftover(dataDir: string) {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(dataDir, 'agent.pid'), 'utf8').trim());
  } catch {
    return;
  }
  if (!pid || !isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let waited = 0; waited < 5_000 && isAlive(pid); waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

export interface DemoAgentOptions {
  hostname: string;
  dataDir: string;
  consoleUrl: string;
  /** Only for the first start; later starts use the identity in the data folder. */
  enrolmentToken?: string;
}

/** Starts the real agent program as a child process, logging to `agent.log` in its folder. */
export async function startDemoAgent(options: DemoAgentOptions): Promise<ChildProcess> {
  stopAllOnExit();
  await mkdir(options.dataDir, { recursive: true });
  await stopLeftover(options.dataDir);
  const log = openSync(path.join(options.dataDir, 'agent.log'), 'a');
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(process.cwd(), 'server', 'agent', 'main.ts'), '--console', options.consoleUrl, '--data-dir', options.dataDir, '--hostname', options.hostname],
    {
      // The token goes through the environment, not argv, so `ps` does not show it.
      env: { ...process.env, TERN_ENROL_TOKEN: options.enrolmentToken ?? '', NODE_OPTIONS: '' },
      stdio: ['ignore', log, log],
    },
  );
  agents.set(options.hostname, child);
  child.on('exit', (code, signal) => {
    if (agents.get(options.hostname) === child) agents.delete(options.hostname);
    logger.info('demo agent exited', { hostname: options.hostname, code, signal });
  });
  return child;
}
