#!/usr/bin/env node
// `npm run demo:reset`: stops the demo's agents and deletes the embedded database and the demo
// fleet's files, so the next `npm start` builds a fresh demo. Refuses while a console runs on it.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';

const dataDir = path.resolve(process.env.TERN_DATA_DIR ?? '.tern');
if (process.env.DATABASE_URL) {
  console.error('DATABASE_URL is set: demo:reset only resets the embedded database. Drop the PostgreSQL database yourself.');
  process.exit(1);
}
if (!existsSync(dataDir)) {
  console.log(`Nothing to reset: ${dataDir} does not exist.`);
  process.exit(0);
}

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const consolePidFile = path.join(dataDir, 'console.pid');
const consolePid = existsSync(consolePidFile) ? Number(readFileSync(consolePidFile, 'utf8').trim()) : 0;
if (consolePid && alive(consolePid)) {
  console.error(`A console (pid ${consolePid}) is running on ${dataDir}. Stop it first.`);
  process.exit(1);
}

const agentsDir = path.join(dataDir, 'demo', 'agents');
if (existsSync(agentsDir)) {
  for (const host of readdirSync(agentsDir)) {
    const pidFile = path.join(agentsDir, host, 'agent.pid');
    if (!existsSync(pidFile)) continue;
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    if (pid && alive(pid)) {
      process.kill(pid, 'SIGTERM');
      console.log(`stopped demo agent ${host} (pid ${pid})`);
    }
  }
}
rmSync(dataDir, { recursive: true, force: true });
console.log(`Removed ${dataDir}. The next \`npm start\` creates a fresh demo fleet.`);
