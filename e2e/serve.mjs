// Starts the production console for the e2e suite: a fresh data folder, a build if none exists
// (`npm run test:e2e` builds first), then `next start` on the suite's port.
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';

const dataDir = process.env.TERN_DATA_DIR;
if (!dataDir || !dataDir.includes('e2e')) throw new Error(`refusing to wipe ${dataDir}: the e2e data folder must have "e2e" in its name`);
rmSync(dataDir, { recursive: true, force: true });
const next = path.join('node_modules', 'next', 'dist', 'bin', 'next');
if (!existsSync(path.join(process.env.TERN_NEXT_DIST_DIR ?? '.next', 'BUILD_ID'))) {
  throw new Error('no production build: run `npm run build` first (npm run test:e2e does)');
}
const server = spawn(process.execPath, [next, 'start', '-p', process.env.PORT], { stdio: 'inherit' });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => server.kill(signal));
server.on('exit', (code) => process.exit(code ?? 0));
