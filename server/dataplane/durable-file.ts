import { open, rename, rm } from 'node:fs/promises';
import path from 'node:path';

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
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, file);
  const folder = await open(path.dirname(file), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
