#!/usr/bin/env node
// `npm start`: builds the console when there is no production build yet, then serves it.
// Set TERN_REBUILD=1 to force a fresh build (after pulling new code, say).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

const distDir = process.env.TERN_NEXT_DIST_DIR ?? '.next';
const next = path.join('node_modules', 'next', 'dist', 'bin', 'next');

if (process.env.TERN_REBUILD === '1' || !existsSync(path.join(distDir, 'BUILD_ID'))) {
  console.log(`No production build in ${distDir}/ yet: building the console (about a minute)…`);
  const build = spawnSync(process.execPath, [next, 'build'], { stdio: 'inherit', env: { NEXT_TELEMETRY_DISABLED: '1', ...process.env } });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

// The console tells its demo agents where to reach it from PORT, so `-p N` sets PORT too.
const args = process.argv.slice(2);
const portFlag = args.findIndex((arg) => arg === '-p' || arg === '--port');
const env = { NEXT_TELEMETRY_DISABLED: '1', ...process.env };
if (portFlag >= 0 && args[portFlag + 1]) env.PORT = args[portFlag + 1];
const server = spawn(process.execPath, [next, 'start', ...args], { stdio: 'inherit', env });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
server.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
