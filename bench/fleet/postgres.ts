/**
 * A throwaway PostgreSQL server for one benchmark run when no URL is given: initdb in a temporary
 * folder and pg_ctl start on a free loopback port, as the unprivileged user `nobody` when run as
 * root (PostgreSQL refuses root). Stopped and removed afterwards.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface LocalPostgres {
  url: string;
  stop(): void;
}

export function hasPostgres(): boolean {
  return spawnSync('initdb', ['--version'], { stdio: 'ignore' }).status === 0 && spawnSync('pg_ctl', ['--version'], { stdio: 'ignore' }).status === 0;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startLocalPostgres(): Promise<LocalPostgres> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'tern-bench-pg-'));
  const dataDir = path.join(root, 'data');
  const asRoot = process.getuid?.() === 0;
  const run = (command: string, args: string[]) =>
    execFileSync(asRoot ? 'runuser' : command, asRoot ? ['-u', 'nobody', '--', command, ...args] : args, { stdio: ['ignore', 'ignore', 'pipe'] });
  if (asRoot) chownSync(root, 65534, 65534);
  const port = await freePort();
  run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--no-sync']);
  run('pg_ctl', ['-D', dataDir, '-w', '-l', path.join(root, 'log'), '-o', `-p ${port} -k ${root} -c listen_addresses=127.0.0.1 -c max_connections=100 -c fsync=on`, 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      try {
        run('pg_ctl', ['-D', dataDir, '-w', '-m', 'fast', 'stop']);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}
