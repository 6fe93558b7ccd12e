import 'server-only';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * PGlite must never be opened by two processes: the second would corrupt the first's data.
 * A pid file in the data folder makes a second console on the same folder refuse to start.
 */
export function lockDataDir(dataDir: string) {
  mkdirSync(dataDir, { recursive: true });
  const pidFile = path.join(dataDir, 'console.pid');
  let previous = 0;
  try {
    previous = Number(readFileSync(pidFile, 'utf8').trim());
  } catch {
    // No pid file: nobody holds the folder.
  }
  if (previous && previous !== process.pid && isAlive(previous)) {
    throw new Error(`another Tern console (pid ${previous}) is using ${dataDir}; stop it, or set TERN_DATA_DIR to another folder`);
  }
  writeFileSync(pidFile, `${process.pid}\n`);
  process.on('exit', () => {
    try {
      if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) rmSync(pidFile);
    } catch {
      // Already gone.
    }
  });
}
