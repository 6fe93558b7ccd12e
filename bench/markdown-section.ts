/** docs/benchmarks.md holds one `## ` section per benchmark; a re-run replaces only its own. */
import { readFile, writeFile } from 'node:fs/promises';

const PREAMBLE = '# Benchmarks\n\nMeasured with `npm run bench -- <name>` (bench/run.ts). Every figure is reported against a baseline measured in the same run.\n';

export async function replaceSection(file: string, section: string): Promise<void> {
  const existing = await readFile(file, 'utf8').catch(() => PREAMBLE);
  const heading = section.split('\n', 1)[0] ?? '';
  const lines = existing.split('\n');
  const start = lines.findIndex((line) => line.trim() === heading.trim());
  if (start < 0) {
    await writeFile(file, `${existing.trimEnd()}\n\n${section.trimEnd()}\n`);
    return;
  }
  const next = lines.findIndex((line, index) => index > start && line.startsWith('## '));
  const after = next < 0 ? [] : lines.slice(next);
  const updated = [...lines.slice(0, start), ...section.trimEnd().split('\n'), ...(after.length ? ['', ...after] : [])];
  await writeFile(file, `${updated.join('\n').trimEnd()}\n`);
}
