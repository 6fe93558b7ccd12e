/**
 * `npm run bench -- dataplane`: how fast and how gently Tern moves a live volume, against a plain
 * sequential copy of the same file under the same application, measured in the same run.
 *
 * Scenarios: no application; random 4 KiB writes at 20 MiB/s (in-process workload); random
 * 4 KiB writes as fast as the writer can go (fio over NBD when installed). In each scenario the
 * methods alternate, plain / mirror / pre-copy, for `--runs` rounds, with the page cache dropped
 * before every run. The source LUN is filled once with real (non-zero, non-sparse) bytes.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fioWriter, hasFio, inProcessWriter, type WriterSpec } from './app-writers';
import { judgeBars, renderMarkdown, renderText, type DataplaneReport, type ScenarioResult } from './dataplane-report';
import { runTrial, type Method } from './dataplane-trial';
import { describeMachine, dropPageCache } from './machine';
import { replaceSection } from './markdown-section';
import { spawnSync } from 'node:child_process';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const PAUSE_BUDGET_MS = 100; // MigrationJob's default
const METHODS: readonly Method[] = ['plain', 'mirror', 'precopy'];

interface DataplaneOptions {
  sizeBytes: number;
  runs: number;
  quick: boolean;
  dir: string;
  markdown: boolean;
  baselineWindowMs: number;
}

export const usage = `dataplane [--size 1G] [--runs 3] [--quick] [--dir <folder>] [--markdown]
  --size      volume size (bytes, or with K/M/G); default 1G
  --runs      rounds of plain / mirror / pre-copy per scenario; default 3
  --quick     256 MiB, 1 round: for development, labelled as such
  --dir       where the LUN files go (same filesystem for all); default the OS temp folder
  --markdown  also write the table and the machine into docs/benchmarks.md ("## Data plane")`;

function parseSize(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([KMG]?)i?B?$/i.exec(text.trim());
  if (!match) throw new Error(`--size ${text}: expected bytes or a number with K, M or G (e.g. 1G, 256M)`);
  const unit = { '': 1, K: 1024, M: MiB, G: GiB }[(match[2] ?? '').toUpperCase()] ?? 1;
  const bytes = Math.round(Number(match[1]) * unit);
  if (bytes < MiB || bytes % (64 * 1024) !== 0) throw new Error(`--size ${text}: must be at least 1 MiB and a multiple of 64 KiB`);
  return bytes;
}

function parseOptions(args: string[]): DataplaneOptions {
  const { values } = parseArgs({
    args,
    options: { size: { type: 'string' }, runs: { type: 'string' }, quick: { type: 'boolean' }, dir: { type: 'string' }, markdown: { type: 'boolean' } },
  });
  const quick = values.quick ?? false;
  const runs = Number(values.runs ?? (quick ? 1 : 3));
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: expected a whole number ≥ 1`);
  return { sizeBytes: parseSize(values.size ?? (quick ? '256M' : '1G')), runs, quick, dir: values.dir ?? os.tmpdir(), markdown: values.markdown ?? false, baselineWindowMs: quick ? 2000 : 3000 };
}

function scenarios(): { name: string; writer: WriterSpec | null }[] {
  return [
    { name: 'idle', writer: null },
    { name: '20 MiB/s random 4 KiB', writer: inProcessWriter(20 * MiB) },
    { name: 'unbounded random 4 KiB', writer: hasFio() ? fioWriter() : inProcessWriter(null) },
  ];
}

/** Real bytes on every block: a 1 MiB random pattern repeated (not sparse, not zero). */
async function fillSource(file: string, sizeBytes: number) {
  const pattern = Buffer.alloc(MiB);
  for (let i = 0; i < pattern.length; i += 4) pattern.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, i);
  const handle = await open(file, 'w');
  try {
    for (let offset = 0; offset < sizeBytes; offset += MiB) await handle.write(pattern, 0, Math.min(MiB, sizeBytes - offset), offset);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function qemuAvailability(): string {
  const found = spawnSync('qemu-storage-daemon', ['--version'], { stdio: 'ignore' }).status === 0;
  return found ? 'qemu-storage-daemon is installed, but the QEMU mirror baseline is not implemented yet' : 'not installed (qemu-storage-daemon, Debian package qemu-system-common)';
}

export async function runDataplane(args: string[]): Promise<void> {
  const options = parseOptions(args);
  const machine = describeMachine();
  const root = await mkdtemp(path.join(options.dir, 'tern-bench-'));
  const sourcePath = path.join(root, 'source.lun');
  let hotCache = false;
  try {
    console.log(`filling a ${options.sizeBytes / MiB} MiB source LUN in ${root} …`);
    await fillSource(sourcePath, options.sizeBytes);
    const timeoutMs = Math.max(60_000, (options.sizeBytes / GiB) * 180_000);
    // The first copy after the fill runs up to 3× slower than the rest (seen in every run here);
    // one untimed copy keeps that out of the figures.
    console.log('warming up: one untimed plain copy …');
    await dropPageCache();
    await runTrial('plain', { sourcePath, sizeBytes: options.sizeBytes, workDir: path.join(root, 'warm-up'), writer: null, baselineWindowMs: 0, timeoutMs });
    const results: ScenarioResult[] = [];
    for (const scenario of scenarios()) {
      const result: ScenarioResult = { name: scenario.name, writerLabel: scenario.writer?.label ?? null, trials: { plain: [], mirror: [], precopy: [] } };
      for (let run = 1; run <= options.runs; run++) {
        for (const method of METHODS) {
          if (!(await dropPageCache())) hotCache = true;
          const trial = await runTrial(method, { sourcePath, sizeBytes: options.sizeBytes, workDir: path.join(root, `${method}-${run}`), writer: scenario.writer, baselineWindowMs: options.baselineWindowMs, timeoutMs });
          result.trials[method].push(trial);
          console.log(`  ${scenario.name}, run ${run}, ${method}: converge ${trial.convergeS?.toFixed(2) ?? '—'} s, total ${trial.totalS?.toFixed(2) ?? '—'} s, copied ${(trial.copiedBytes / options.sizeBytes).toFixed(2)}×, IOPS ${trial.before?.iops.toFixed(0) ?? '—'} → ${trial.during?.iops.toFixed(0) ?? '—'}${trial.note ? ` (${trial.note})` : ''}`);
        }
      }
      results.push(result);
    }
    const report: DataplaneReport = { machine, sizeBytes: options.sizeBytes, runs: options.runs, quick: options.quick, hotCache, pauseBudgetMs: PAUSE_BUDGET_MS, qemu: qemuAvailability(), scenarios: results };
    console.log(`\n${renderText(report)}`);
    if (options.markdown) {
      await replaceSection(path.join(process.cwd(), 'docs', 'benchmarks.md'), renderMarkdown(report));
      console.log('\nwrote the "## Data plane" section of docs/benchmarks.md');
    }
    if (judgeBars(report).some((bar) => bar.met === false)) process.exitCode = 1;
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
