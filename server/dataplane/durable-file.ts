import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

/** A step of writeFileAtomic, done: the temporary file written (created) and fsynced, renamed, its folder fsynced. */
export type DurableFileStep = { step: 'written'; file: string; content: string | Uint8Array } | { step: 'synced'; file: string } | { step: 'renamed'; from: string; to: string } | { step: 'dir-synced'; dir: string };

/** Test seam, off by default: told of each step of writeFileAtomic once it is done (server/dataplane/power-loss.test.ts records them). */
let stepObserver: ((step: DurableFileStep) => void) | null = null;
export function observeDurableFile(observer: ((step: DurableFileStep) => void) | null) {
  stepObserver = observer;
}

/**
 * Replaces a file whole: write a temporary file, fsync it, rename it over the old one, fsync
 * the folder. After a crash the file holds its old or its new content, never a mix.
 */
export async function writeFileAtomic(file: string, content: string | Uint8Array, mode = 0o600): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  await rm(temp, { force: true });
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.chmod(mode); // the mode given to open() is narrowed by the umask
    await handle.writeFile(content);
    stepObserver?.({ step: 'written', file: temp, content });
    await handle.sync();
    stepObserver?.({ step: 'synced', file: temp });
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  stepObserver?.({ step: 'renamed', from: temp, to: file });
  const folder = await open(path.dirname(file), 'r');
  try {
    await folder.sync();
    stepObserver?.({ step: 'dir-synced', dir: path.dirname(file) });
  } finally {
    await folder.close();
  }
}
