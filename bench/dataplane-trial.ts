/**
 * One trial of the data-plane benchmark: start the scenario's application on a volume, measure
 * its writes for a baseline window, then move the volume's bytes to a fresh target LUN by one
 * method while it keeps writing, and measure again.
 *
 * Methods: `plain` is the baseline, a sequential copy of the source file in 1 MiB chunks and an
 * fsync (the application writes to the same file, through a volume with no migration); `mirror`
 * and `precopy` are Tern's MigrationJob strategies. For every method "converged" is the moment
 * the copy is on the target and durable: after the fsync for `plain`, after the switch (target
 * flushed, writes resumed on it) for Tern. Tern's total adds the verification.
 */
import { mkdir, open, rm } from 'node:fs/promises';
import path from 'node:path';
import { MigrationJob, type JobPhase, type Strategy } from '../server/dataplane/migration-job';
import { Plex } from '../server/dataplane/plex';
import { Volume } from '../server/dataplane/volume';
import type { AppWriter, WriterSpec } from './app-writers';
import { WriteRecorder, type WriteWindow } from './write-recorder';

export type Method = 'plain' | Strategy;

export interface TrialSetup {
  sourcePath: string;
  sizeBytes: number;
  /** An empty folder for the target LUN, the job's state and fio's socket; removed afterwards. */
  workDir: string;
  writer: WriterSpec | null;
  baselineWindowMs: number;
  timeoutMs: number;
}

export interface TrialResult {
  method: Method;
  converged: boolean;
  convergeS: number | null;
  totalS: number | null;
  /** The longest application write latency around the switch (writes held at the gate included). */
  switchPauseMs: number | null;
  /** How long the job itself held writes (MigrationJob status.cutoverPauseMs). */
  jobPauseMs: number | null;
  copiedBytes: number;
  before: WriteWindow | null;
  during: WriteWindow | null;
  note: string | null;
}

const REGION_BYTES = 64 * 1024;
const COPY_CHUNK_BYTES = 1024 * 1024;
/** Writes held at the gate finish just after it opens; this much after the switch still counts. */
const SWITCH_TAIL_MS = 250;

export async function runTrial(method: Method, setup: TrialSetup): Promise<TrialResult> {
  await mkdir(setup.workDir, { recursive: true });
  const targetPath = path.join(setup.workDir, 'target.lun');
  await createSparseFile(targetPath, setup.sizeBytes);
  const primary = await Plex.open({ name: 'vol-01', lunId: 'source', lunPath: setup.sourcePath, state: 'active' });
  const volume = new Volume('vol', setup.sizeBytes, REGION_BYTES, primary);
  const recorder = new WriteRecorder(volume);
  const app = setup.writer?.create(setup.workDir) ?? null;
  try {
    await app?.start(recorder);
    const before = app ? await measureBaseline(recorder, setup.baselineWindowMs) : null;
    const moved = method === 'plain' ? await plainCopy(setup, targetPath, recorder) : await ternCopy(method, setup, volume, targetPath, recorder, app);
    return { ...moved, before };
  } finally {
    await app?.stop();
    await Promise.all([...new Set([primary, volume.primary])].map((plex) => plex.close().catch(() => undefined)));
    await rm(setup.workDir, { recursive: true, force: true });
  }
}

async function createSparseFile(file: string, sizeBytes: number) {
  const handle = await open(file, 'w');
  await handle.truncate(sizeBytes);
  await handle.close();
}

/** Waits for the application's first writes, lets it settle, then measures a window. */
async function measureBaseline(recorder: WriteRecorder, windowMs: number): Promise<WriteWindow> {
  const deadline = performance.now() + 15_000;
  while (recorder.window(0, performance.now()).writes === 0) {
    if (performance.now() > deadline) throw new Error('the application made no write within 15 s of starting; is fio able to reach the NBD socket?');
    await sleep(50);
  }
  await sleep(500);
  const from = performance.now();
  await sleep(windowMs);
  return recorder.window(from, performance.now());
}

async function plainCopy(setup: TrialSetup, targetPath: string, recorder: WriteRecorder): Promise<Omit<TrialResult, 'before'>> {
  const started = performance.now();
  const source = await open(setup.sourcePath, 'r');
  const target = await open(targetPath, 'r+');
  try {
    const buffer = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    for (let offset = 0; offset < setup.sizeBytes; offset += COPY_CHUNK_BYTES) {
      const length = Math.min(COPY_CHUNK_BYTES, setup.sizeBytes - offset);
      const { bytesRead } = await source.read(buffer, 0, length, offset);
      await target.write(buffer, 0, bytesRead, offset);
    }
    await target.sync();
  } finally {
    await source.close();
    await target.close();
  }
  const finished = performance.now();
  const seconds = (finished - started) / 1000;
  return { method: 'plain', converged: true, convergeS: seconds, totalS: seconds, switchPauseMs: null, jobPauseMs: null, copiedBytes: setup.sizeBytes, during: recorder.window(started, finished), note: null };
}

async function ternCopy(strategy: Strategy, setup: TrialSetup, volume: Volume, targetPath: string, recorder: WriteRecorder, app: AppWriter | null): Promise<Omit<TrialResult, 'before'>> {
  const job = await MigrationJob.start(volume, { id: `bench-${strategy}`, strategy, target: { name: 'vol-02', lunId: 'target', lunPath: targetPath }, stateDir: setup.workDir });
  const phaseAtMs = new Map<JobPhase, number>();
  job.on('phase', (phase) => {
    if (!phaseAtMs.has(phase)) phaseAtMs.set(phase, performance.now());
  });
  job.on('error', () => undefined); // the phase says failed; status.error says why
  const started = performance.now();
  void job.run();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timed out'>((resolve) => (timer = setTimeout(() => resolve('timed out'), setup.timeoutMs)));
  const ended = await Promise.race([job.until('verified', 'failed', 'cancelled'), timedOut]);
  clearTimeout(timer);
  const switchStarted = phaseAtMs.get('cutting-over') ?? null;
  const switched = job.status.switched ? (phaseAtMs.get('verifying') ?? null) : null;
  const copyEnded = switchStarted ?? performance.now();
  const during = recorder.window(started, copyEnded);
  const switchWindow = app && switchStarted !== null && switched !== null ? recorder.window(switchStarted, switched + SWITCH_TAIL_MS) : null;
  const status = job.status;
  const note = trialNote(strategy, ended, status);
  if (ended === 'verified') await job.commit();
  else if (!status.switched && ended === 'timed out') await job.cancel();
  else await job.close();
  return {
    method: strategy,
    converged: switched !== null,
    convergeS: switched === null ? null : (switched - started) / 1000,
    totalS: ended === 'verified' ? ((phaseAtMs.get('verified') ?? performance.now()) - started) / 1000 : null,
    switchPauseMs: switchWindow?.maxMs ?? null,
    jobPauseMs: status.cutoverPauseMs,
    copiedBytes: status.bytesCopied,
    during,
    note,
  };
}

function trialNote(strategy: Strategy, ended: JobPhase | 'timed out', status: MigrationJob['status']): string | null {
  if (ended === 'timed out') return `did not finish within the time limit (phase ${status.phase}, ${status.regionsDirty} regions dirty)`;
  if (ended !== 'verified') return `${ended}: ${status.error ?? status.result ?? 'no reason given'}`;
  if (status.verify && !status.verify.ok) return `verification found ${status.verify.mismatchedRegions.length} mismatched regions`;
  if (status.strategy !== strategy) return `not converging, switched to ${status.strategy}`;
  return null;
}

function sleep(ms: number) {
  return new Promise<void>((resolve) => setTimeout(resolve, ms));
}
