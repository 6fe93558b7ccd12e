/**
 * Power-loss crash states of the data plane, after the crash-consistency literature (ALICE,
 * CrashMonkey): record every file operation one real migration issues, build from that log the
 * states the disks could be in after a crash, and run the real recovery on each.
 *
 * Two meanings of acknowledged: a write that got its reply must survive `kill -9` of the agent;
 * a write covered by a completed FLUSH (volume.flush()), or sent with FUA, must also survive
 * power loss. During a mirror a FLUSH covers both plexes (or the dirty-region log that names
 * what differs). A write in flight at the crash is indeterminate: old or new content is accepted
 * there, and nothing else.
 *
 * 1. Record. One in-process run of a MigrationJob on a 1 MiB volume (64 KiB regions, LUNs as
 *    files in a temp folder, on tmpfs where there is one) while a deterministic writer writes
 *    through the Volume, now and then with FUA or followed by volume.flush(). The seams
 *    (plex.ts `setPlexOpenHook`, dirty-region-log.ts `setDrlOpenHook`, durable-file.ts
 *    `observeDurableFile`) record, in one ordered log: every write (position and bytes, when
 *    issued and when done) and every datasync/fsync of the source plex, the target plex, the DRL
 *    `job-<id>.drl` and the rollback log `job-<id>.rollback.drl`; every creation of a file; and
 *    each step of the state file's writeFileAtomic (temp file written, fsynced, renamed, folder
 *    fsynced). The writer stamps each of its writes with the log position when it was issued,
 *    acknowledged, and covered by a completed flush or FUA.
 * 2. Crash states. A cut after each durability point (every fsync/datasync): a file's write is
 *    durable there once an fsync of that file, issued after the write was done, has completed; a
 *    creation or rename once its folder was fsynced after it (POSIX; ext4 is kinder). What is not
 *    durable is decided per variant: `keep` (everything issued lands: `kill -9`), `drop`
 *    (nothing unsynced lands), `subset` (a seeded half of the unsynced writes, a seeded prefix of
 *    the unsynced renames and creations), `torn` (each unsynced write dropped, kept, or torn: only
 *    some of its 512 B sectors land). The state file is old or new, never a mix: a rename lands
 *    whole, and it names the temp file's own durable content (an fsync-less writeFileAtomic
 *    would show up here as an empty or partial state file).
 * 3. Recovery. Each state is written as real files at the recorded paths (the state file names
 *    the LUNs by absolute path), then the agent's recovery runs: a final phase is left alone
 *    (server/agent/volume-runtime.ts does so); otherwise `MigrationJob.resume` on a volume whose
 *    primary is the plex the state file says is authoritative, the throttle lifted, run() to
 *    `ready` (cutoverNow) and `verified`, then commit (or rollback in the rollback scenario, or
 *    when it was rolling back; or when commit refuses a failed verification).
 * 4. Checks: the state file parses; before recovery, the DRL (before the switch) or the rollback
 *    log (after it) names every region where source and target differ; the job ends committed,
 *    rolled back, or failed with a reason, within a bounded time; and every 512 B sector of the
 *    authoritative plex holds the last write the crash must keep (acknowledged for `keep`, flush-
 *    or FUA-covered for the others), or a later write issued before the cut, and nothing else.
 *    (The rollback-log check after the switch is the one migration-job.property.test.ts makes.)
 * 5. No assumption about the source: the cutover flushes both plexes before it records the
 *    switch (migration-job.ts switchToTarget), and the sweep models only the flushes it recorded.
 *    Each scenario also checks every post-switch cut again with every unsynced write dropped and
 *    prints how many of those fail (0; before the cutover flushed the source, 9–22 did).
 *
 * Not modelled: the job removing its logs once it has ended (an rm with no folder fsync; the
 * recovery of a final phase reads neither log).
 *
 * `TERN_POWER_LOSS_STATES` sets the crash states per scenario (default 100, four scenarios; about
 * 1000 reaches every cut of each log); `TERN_POWER_LOSS_SEED` the writer's and the variants' seed.
 * A run's log depends on timing (real files, real timers), so a failing state is replayed from
 * its files, not its seed: it is described by scenario, cut (the op log position), variant and
 * seed, its files and the writer's ledger are kept (the message says where), and
 * `TERN_POWER_LOSS_REPLAY=<that folder>` runs the recovery and the checks on it again.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setDrlOpenHook, type DrlFile } from './dirty-region-log';
import { observeDurableFile, type DurableFileStep } from './durable-file';
import { authoritativePlex, isFinalPhase, type JobPhase, type PersistedState, type Strategy } from './job-state';
import { MigrationJob } from './migration-job';
import { Plex, setPlexOpenHook, type PlexIo } from './plex';
import { Volume } from './volume';

const KiB = 1024;
const VOLUME_BYTES = 1024 * KiB;
const REGION_BYTES = 64 * KiB;
const REGIONS = VOLUME_BYTES / REGION_BYTES;
const SECTOR = 512;
const SECTORS = VOLUME_BYTES / SECTOR;
const DRL_HEADER_BYTES = 4096;
const JOB_ID = 'pl';
const STATES_PER_SCENARIO = Number(process.env.TERN_POWER_LOSS_STATES ?? 100);
const SEED = Number(process.env.TERN_POWER_LOSS_SEED ?? 20261201);
/** How long recovery may take to reach each phase before the state counts as stuck. */
const PHASE_TIMEOUT_MS = 15_000;
const KEEP_DIR = path.join(os.tmpdir(), 'tern-power-loss-failures');

type End = 'commit' | 'rollback';
interface Scenario {
  name: string;
  strategy: Strategy;
  cutover: 'auto' | 'manual';
  end: End;
  seed: number;
}

// ---- deterministic content and randomness ----------------------------------------------------------

function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

function mix(...parts: number[]): number {
  let h = 2166136261;
  for (const part of parts) {
    h ^= part >>> 0;
    h = Math.imul(h, 16777619) >>> 0;
    h ^= h >>> 13;
  }
  return h >>> 0;
}

const SECTOR_MAGIC = 0x504c5753; // "PLWS"

/** The content application write `seq` puts in sector `sector` (seq 0: the volume's initial data). */
function sectorContent(seq: number, sector: number): Buffer {
  const data = Buffer.allocUnsafe(SECTOR);
  data.writeUInt32LE(SECTOR_MAGIC, 0);
  data.writeUInt32LE(sector, 4);
  data.writeDoubleLE(seq, 8);
  let x = mix(sector, seq) || 1;
  for (let i = 16; i < SECTOR; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data.writeUInt32LE(x >>> 0, i);
  }
  return data;
}

const ZERO_SECTOR = Buffer.alloc(SECTOR);

/** The initial content: the first half of the volume holds data, the rest was never written (sparse). */
function baseSector(sector: number): Buffer {
  return sector < SECTORS / 2 ? sectorContent(0, sector) : ZERO_SECTOR;
}

/** The write a sector holds: 0 for the initial content, the sequence number, or -1 for anything else. */
function decodeSector(bytes: Buffer, sector: number): number {
  if (bytes.equals(baseSector(sector))) return 0;
  if (bytes.readUInt32LE(0) !== SECTOR_MAGIC || bytes.readUInt32LE(4) !== sector) return -1;
  const seq = bytes.readDoubleLE(8);
  return seq > 0 && Number.isInteger(seq) && sectorContent(seq, sector).equals(bytes) ? seq : -1;
}

// ---- the op log ---------------------------------------------------------------------------------

type Op =
  /** A write to an inode; `doneAt` is the log length when it completed (Infinity: never). */
  | { kind: 'write'; inode: number; position: number; data: Buffer; doneAt: number }
  /** An fsync/fdatasync of an inode, logged when it completed; it covers writes done by `issuedAt`. */
  | { kind: 'sync'; inode: number; issuedAt: number; call: 'datasync' | 'fsync' }
  | { kind: 'create'; file: string; inode: number }
  | { kind: 'rename'; from: string; to: string }
  /** A folder fsync, logged when it completed; it covers the folder's creations and renames logged before `covers`. */
  | { kind: 'dirsync'; dir: string; covers: number };

interface Inode {
  id: number;
  name: string;
  base: Buffer;
  /** A state file version: what it says (for descriptions and for choosing cuts). */
  state?: PersistedState;
}

class Recorder {
  readonly ops: Op[] = [];
  readonly inodes: Inode[] = [];
  /** The names the folders hold when recording starts. */
  readonly baseNames = new Map<string, number>();
  private readonly live = new Map<string, number>();
  private lastRename = -1;
  recording = false;

  now() {
    return this.ops.length;
  }

  addBase(file: string, content: Buffer) {
    const inode = this.newInode(file, content);
    this.baseNames.set(file, inode);
    this.live.set(file, inode);
  }

  start() {
    this.recording = true;
    setPlexOpenHook((io, lunPath) => this.wrapPlex(io, lunPath));
    setDrlOpenHook((file, drlPath) => this.wrapDrl(file, drlPath));
    observeDurableFile((step) => this.durableStep(step));
  }

  stop() {
    this.recording = false;
    setPlexOpenHook(null);
    setDrlOpenHook(null);
    observeDurableFile(null);
  }

  private newInode(name: string, base: Buffer = Buffer.alloc(0)): number {
    const id = this.inodes.length;
    this.inodes.push({ id, name: path.basename(name), base });
    return id;
  }

  private inodeFor(file: string): number {
    const known = this.live.get(file);
    if (known !== undefined) return known;
    // Opened without being known: the open created it.
    const inode = this.newInode(file);
    this.live.set(file, inode);
    this.ops.push({ kind: 'create', file, inode });
    return inode;
  }

  private recordWrite<T>(inode: number, source: Uint8Array, offset: number, length: number, position: number, io: () => Promise<T>): Promise<T> {
    if (!this.recording) return io();
    const op: Extract<Op, { kind: 'write' }> = { kind: 'write', inode, position, data: Buffer.from(source.subarray(offset, offset + length)), doneAt: Number.POSITIVE_INFINITY };
    this.ops.push(op);
    return io().then((result) => {
      const written = (result as { bytesWritten?: number } | undefined)?.bytesWritten;
      if (typeof written === 'number' && written < length) op.data = op.data.subarray(0, written);
      op.doneAt = this.now();
      return result;
    });
  }

  private async recordSync(inode: number, call: 'datasync' | 'fsync', io: () => Promise<void>) {
    if (!this.recording) return io();
    const issuedAt = this.now();
    await io();
    if (this.recording) this.ops.push({ kind: 'sync', inode, issuedAt, call });
  }

  private wrapPlex(io: PlexIo, lunPath: string): PlexIo {
    const inode = this.inodeFor(lunPath);
    return {
      read: (buffer, offset, length, position) => io.read(buffer, offset, length, position),
      write: (buffer, offset, length, position) => this.recordWrite(inode, buffer, offset, length, position, () => io.write(buffer, offset, length, position)),
      datasync: () => this.recordSync(inode, 'datasync', () => io.datasync()),
      close: () => io.close(),
    };
  }

  private wrapDrl(file: DrlFile, drlPath: string): DrlFile {
    if (!this.recording) return file;
    const inode = this.inodeFor(drlPath);
    return {
      read: (buffer, offset, length, position) => file.read(buffer, offset, length, position),
      write: (buffer, offset, length, position) => this.recordWrite(inode, buffer, offset, length, position, () => file.write(buffer, offset, length, position)),
      datasync: () => this.recordSync(inode, 'datasync', () => file.datasync()),
      sync: () => this.recordSync(inode, 'fsync', () => file.sync()),
      close: () => file.close(),
    };
  }

  private durableStep(step: DurableFileStep) {
    if (!this.recording) return;
    switch (step.step) {
      case 'written': {
        const content = Buffer.from(step.content);
        const inode = this.newInode(step.file);
        const record = this.inodes[inode]!;
        try {
          record.state = JSON.parse(content.toString('utf8')) as PersistedState;
        } catch {
          // not a state file: no description
        }
        this.live.set(step.file, inode);
        this.ops.push({ kind: 'create', file: step.file, inode });
        this.ops.push({ kind: 'write', inode, position: 0, data: content, doneAt: this.now() + 1 });
        return;
      }
      case 'synced': {
        const inode = this.live.get(step.file);
        if (inode !== undefined) this.ops.push({ kind: 'sync', inode, issuedAt: this.now(), call: 'fsync' });
        return;
      }
      case 'renamed': {
        const inode = this.live.get(step.from);
        if (inode !== undefined) {
          this.live.delete(step.from);
          this.live.set(step.to, inode);
        }
        this.lastRename = this.ops.length;
        this.ops.push({ kind: 'rename', from: step.from, to: step.to });
        return;
      }
      case 'dir-synced':
        // The folder fsync began after the rename returned: it covers what was logged up to it.
        this.ops.push({ kind: 'dirsync', dir: step.dir, covers: this.lastRename + 1 });
        return;
    }
  }

  describeOp(index: number): string {
    const op = this.ops[index];
    if (!op) return `op #${index} (none)`;
    const name = (inode: number) => this.inodes[inode]?.name ?? `inode ${inode}`;
    switch (op.kind) {
      case 'write':
        return `op #${index}: write ${op.data.length} B at ${op.position} to ${name(op.inode)}`;
      case 'sync': {
        const state = this.inodes[op.inode]?.state;
        return `op #${index}: ${op.call} ${name(op.inode)}${state ? ` (state: ${state.phase}${state.switched ? ', switched' : ''})` : ''}`;
      }
      case 'create':
        return `op #${index}: create ${path.basename(op.file)}`;
      case 'rename':
        return `op #${index}: rename ${path.basename(op.from)} to ${path.basename(op.to)}`;
      case 'dirsync':
        return `op #${index}: fsync folder ${path.basename(op.dir)}`;
    }
  }
}

// ---- the application: a deterministic writer and its ledger -------------------------------------------

interface AppWrite {
  seq: number;
  sector: number;
  sectors: number;
  fua: boolean;
  /** Log positions (Recorder.now()) when the write was sent, acknowledged, covered by a completed flush or FUA. */
  issuedAt: number;
  ackedAt: number;
  coveredAt: number;
}

/** What the checks need of the writer, as plain data (kept with a failing state for a replay). */
interface Ledger {
  writes: AppWrite[];
}

class Writer {
  readonly writes: AppWrite[] = [];
  readonly stats = { writes: 0, fua: 0, flushes: 0, errors: 0 };
  private readonly busy = new Uint8Array(SECTORS);
  private readonly random: () => number;
  private running: Promise<void>[] = [];
  private stopped = false;
  private seq = 0;

  constructor(
    private readonly volume: Volume,
    private readonly recorder: Recorder,
    seed: number,
  ) {
    this.random = rng(seed);
  }

  start(workers = 2) {
    for (let i = 0; i < workers; i++) this.running.push(this.worker());
  }

  async stop() {
    this.stopped = true;
    await Promise.all(this.running);
    await this.flush();
  }

  async flush() {
    const issuedAt = this.recorder.now();
    const covered = this.writes.filter((write) => write.ackedAt <= issuedAt && write.coveredAt === Number.POSITIVE_INFINITY);
    try {
      await this.volume.flush();
    } catch {
      this.stats.errors++;
      return;
    }
    const at = this.recorder.now();
    for (const write of covered) write.coveredAt = Math.min(write.coveredAt, at);
    this.stats.flushes++;
  }

  private async worker() {
    while (!this.stopped) {
      await new Promise((resolve) => setTimeout(resolve, 1 + Math.floor(this.random() * 3)));
      if (this.stopped) break;
      if (this.random() < 0.06) {
        await this.flush();
        continue;
      }
      // Mostly the first six regions (hot, so the copy races them); now and then anywhere.
      const span = this.random() < 0.85 ? (6 * REGION_BYTES) / SECTOR : SECTORS;
      const sectors = this.random() < 0.4 ? 1 : 1 + Math.floor(this.random() * 16);
      const sector = Math.min(Math.floor(this.random() * span), SECTORS - sectors);
      await this.write(sector, sectors, this.random() < 0.08);
    }
  }

  /** Writes sectors sector..sector+sectors-1 unless a write to one of them is in flight; returns whether it was acknowledged. */
  async write(sector: number, sectors: number, fua: boolean): Promise<boolean> {
    for (let s = sector; s < sector + sectors; s++) if (this.busy[s]) return false; // one write per sector at a time
    const write: AppWrite = { seq: ++this.seq, sector, sectors, fua, issuedAt: this.recorder.now(), ackedAt: Number.POSITIVE_INFINITY, coveredAt: Number.POSITIVE_INFINITY };
    this.writes.push(write);
    this.busy.fill(1, sector, sector + sectors);
    const data = Buffer.concat(Array.from({ length: sectors }, (_, i) => sectorContent(write.seq, sector + i)));
    try {
      await this.volume.write(sector * SECTOR, data, fua ? { fua: true } : {});
      write.ackedAt = this.recorder.now();
      if (fua) write.coveredAt = write.ackedAt;
      this.stats.writes++;
      if (fua) this.stats.fua++;
      return true;
    } catch {
      this.stats.errors++;
      return false;
    } finally {
      this.busy.fill(0, sector, sector + sectors);
    }
  }

  ledger(): Ledger {
    return { writes: this.writes.map((write) => ({ ...write })) };
  }
}

/**
 * Checks a plex image against the ledger for a crash at `cut`: each sector holds the last write the
 * crash must keep (or the initial content when there is none) or a later write sent before the cut.
 */
function checkImage(image: Buffer, ledger: Ledger, cut: number, mustKeep: 'acknowledged' | 'flushed'): string[] {
  const history: AppWrite[][] = Array.from({ length: SECTORS }, () => []);
  for (const write of ledger.writes) for (let s = write.sector; s < write.sector + write.sectors; s++) history[s]!.push(write);
  const problems: string[] = [];
  for (let sector = 0; sector < SECTORS; sector++) {
    const writes = history[sector]!;
    let kept = -1;
    writes.forEach((write, index) => {
      if ((mustKeep === 'acknowledged' ? write.ackedAt : write.coveredAt) <= cut) kept = index;
    });
    const allowed = new Set<number>([kept >= 0 ? writes[kept]!.seq : 0]);
    for (let index = kept + 1; index < writes.length; index++) if (writes[index]!.issuedAt <= cut) allowed.add(writes[index]!.seq);
    const found = decodeSector(image.subarray(sector * SECTOR, (sector + 1) * SECTOR), sector);
    if (allowed.has(found)) continue;
    const must = kept >= 0 ? writes[kept]! : null;
    problems.push(
      `sector ${sector} (region ${Math.floor((sector * SECTOR) / REGION_BYTES)}) holds ${found === -1 ? 'garbage' : found === 0 ? 'the initial content' : `write #${found}`}, ` +
        `allowed: ${[...allowed].map((seq) => (seq === 0 ? 'initial' : `#${seq}`)).join(', ')}` +
        (must ? ` (#${must.seq} ${mustKeep === 'acknowledged' ? `acknowledged at ${must.ackedAt}` : `covered at ${must.coveredAt}${must.fua ? ' by FUA' : ' by a flush'}`}, sent at ${must.issuedAt})` : ''),
    );
    if (problems.length >= 5) break;
  }
  return problems;
}

// ---- crash states ---------------------------------------------------------------------------------

type Variant = 'keep' | 'drop' | 'subset' | 'torn';

interface CrashState {
  cut: number;
  variant: Variant;
  seed: number;
  /** Per unsynced write (op index): the sectors that land (null: the whole write). */
  writes: Map<number, boolean[] | null>;
  /** How many of the unsynced folder operations land, in order. */
  dirOps: number;
}

interface Paths {
  root: string;
  luns: string;
  state: string;
  source: string;
  target: string;
}

function pathsUnder(root: string): Paths {
  const luns = path.join(root, 'luns');
  return { root, luns, state: path.join(root, 'state'), source: path.join(luns, 'source.lun'), target: path.join(luns, 'target.lun') };
}

/** The crash states of one recorded run, materialized in ascending order of cut. */
class CrashStates {
  /** For each write op: the index of the first sync that makes it durable (Infinity: none). */
  private readonly durableAt: number[] = [];
  /** For each creation or rename: the index of the first folder fsync that makes it durable. */
  private readonly dirDurableAt: number[] = [];
  private readonly images = new Map<number, Buffer>();
  private readonly pending: number[];
  private applied = 0;
  private lastCut = 0;

  /**
   * `sourceFlushedAt`: a sync of the source plex assumed at that op (the state file's fsync that
   * records the switch), as if the cutover flushed the source with writes held; see the tests.
   */
  constructor(
    readonly recorder: Recorder,
    options: { sourceFlushedAt?: { inode: number; op: number } } = {},
  ) {
    const ops = recorder.ops;
    const syncsOf = new Map<number, number[]>();
    ops.forEach((op, index) => {
      if (op.kind === 'sync') syncsOf.set(op.inode, [...(syncsOf.get(op.inode) ?? []), index]);
    });
    const assumed = options.sourceFlushedAt;
    ops.forEach((op, index) => {
      this.durableAt[index] = Number.POSITIVE_INFINITY;
      this.dirDurableAt[index] = Number.POSITIVE_INFINITY;
      if (op.kind === 'write') {
        for (const s of syncsOf.get(op.inode) ?? []) {
          const sync = ops[s] as Extract<Op, { kind: 'sync' }>;
          if (s > index && op.doneAt <= sync.issuedAt) {
            this.durableAt[index] = s;
            break;
          }
        }
        if (assumed && op.inode === assumed.inode && index < assumed.op && op.doneAt <= assumed.op) this.durableAt[index] = Math.min(this.durableAt[index]!, assumed.op);
      } else if (op.kind === 'create' || op.kind === 'rename') {
        const dir = path.dirname(op.kind === 'create' ? op.file : op.to);
        for (let s = index + 1; s < ops.length; s++) {
          const later = ops[s]!;
          if (later.kind === 'dirsync' && later.dir === dir && later.covers > index) {
            this.dirDurableAt[index] = s;
            break;
          }
        }
      }
    });
    for (const inode of recorder.inodes) this.images.set(inode.id, Buffer.from(inode.base));
    this.pending = ops
      .map((_op, index) => index)
      .filter((index) => ops[index]!.kind === 'write' && Number.isFinite(this.durableAt[index]!))
      .sort((a, b) => this.durableAt[a]! - this.durableAt[b]! || a - b);
  }

  /** The cuts: right after each durability point. */
  cuts(): number[] {
    return this.recorder.ops.flatMap((op, index) => (op.kind === 'sync' || op.kind === 'dirsync' ? [index + 1] : []));
  }

  unsyncedWrites(cut: number): number[] {
    const out: number[] = [];
    for (let index = 0; index < cut; index++) if (this.recorder.ops[index]!.kind === 'write' && this.durableAt[index]! >= cut) out.push(index);
    return out;
  }

  unsyncedDirOps(cut: number): number[] {
    const out: number[] = [];
    for (let index = 0; index < cut; index++) {
      const op = this.recorder.ops[index]!;
      if ((op.kind === 'create' || op.kind === 'rename') && this.dirDurableAt[index]! >= cut) out.push(index);
    }
    return out;
  }

  /**
   * The variants of one cut, without duplicates (`seen` holds those of earlier rounds): round 0
   * is keep, drop, one subset and one torn; each later round one more subset and torn.
   */
  variants(cut: number, seed: number, round: number, seen: Set<string>): CrashState[] {
    const writes = this.unsyncedWrites(cut);
    const dirOps = this.unsyncedDirOps(cut).length;
    const states: CrashState[] = [];
    const add = (variant: Variant, variantSeed: number, choose: (random: () => number) => { writes: Map<number, boolean[] | null>; dirOps: number }) => {
      const chosen = choose(rng(variantSeed));
      const key = `${[...chosen.writes].map(([op, sectors]) => `${op}:${sectors ? sectors.map(Number).join('') : 'all'}`).join(',')}|${chosen.dirOps}`;
      if (seen.has(key)) return;
      seen.add(key);
      states.push({ cut, variant, seed: variantSeed, ...chosen });
    };
    if (round === 0) {
      add('keep', 0, () => ({ writes: new Map(writes.map((op) => [op, null])), dirOps }));
      add('drop', 0, () => ({ writes: new Map(), dirOps: 0 }));
    }
    add('subset', mix(seed, cut, 2 * round + 1), (random) => ({ writes: new Map(writes.filter(() => random() < 0.5).map((op) => [op, null])), dirOps: Math.floor(random() * (dirOps + 1)) }));
    add('torn', mix(seed, cut, 2 * round + 2), (random) => {
      const chosen = new Map<number, boolean[] | null>();
      for (const op of writes) {
        const roll = random();
        if (roll < 1 / 3) continue;
        const sectors = this.sectorsOf(op);
        if (roll < 2 / 3 || sectors < 2) {
          chosen.set(op, null);
          continue;
        }
        const keep = Array.from({ length: sectors }, () => random() < 0.5);
        if (keep.every(Boolean)) keep[Math.floor(random() * sectors)] = false;
        if (!keep.some(Boolean)) keep[Math.floor(random() * sectors)] = true;
        chosen.set(op, keep);
      }
      return { writes: chosen, dirOps: Math.floor(random() * (dirOps + 1)) };
    });
    return states;
  }

  /** The 512 B sectors (of the file) a write touches. */
  private sectorsOf(index: number): number {
    const op = this.recorder.ops[index] as Extract<Op, { kind: 'write' }>;
    if (op.data.length === 0) return 0;
    return Math.floor((op.position + op.data.length - 1) / SECTOR) - Math.floor(op.position / SECTOR) + 1;
  }

  /** The files of a crash state, by path. Cuts must come in ascending order. */
  filesOf(state: CrashState): Map<string, Buffer> {
    if (state.cut < this.lastCut) throw new Error('crash states must be materialized in ascending order of cut');
    this.lastCut = state.cut;
    const ops = this.recorder.ops;
    // Advance the durable images to this cut.
    while (this.applied < this.pending.length && this.durableAt[this.pending[this.applied]!]! < state.cut) {
      const op = ops[this.pending[this.applied]!] as Extract<Op, { kind: 'write' }>;
      this.images.set(op.inode, applyWrite(this.images.get(op.inode)!, op.position, op.data, null));
      this.applied++;
    }
    const contents = new Map<number, Buffer>();
    const contentOf = (inode: number) => {
      let content = contents.get(inode);
      if (!content) contents.set(inode, (content = Buffer.from(this.images.get(inode)!)));
      return content;
    };
    for (const [index, sectors] of [...state.writes].sort(([a], [b]) => a - b)) {
      if (this.durableAt[index]! < state.cut) continue; // durable in this model: in the image already
      const op = ops[index] as Extract<Op, { kind: 'write' }>;
      contents.set(op.inode, applyWrite(contentOf(op.inode), op.position, op.data, sectors));
    }
    const names = new Map(this.recorder.baseNames);
    let unsynced = 0;
    for (let index = 0; index < state.cut; index++) {
      const op = ops[index]!;
      if (op.kind !== 'create' && op.kind !== 'rename') continue;
      if (this.dirDurableAt[index]! >= state.cut && unsynced++ >= state.dirOps) continue;
      if (op.kind === 'create') names.set(op.file, op.inode);
      else {
        const inode = names.get(op.from);
        if (inode === undefined) continue;
        names.delete(op.from);
        names.set(op.to, inode);
      }
    }
    return new Map([...names].map(([file, inode]) => [file, contentOf(inode)]));
  }
}

/** A write applied to a file's content; `sectors` (absolute 512 B sectors from the first one touched) keeps only those. */
function applyWrite(content: Buffer, position: number, data: Buffer, sectors: boolean[] | null): Buffer {
  const end = position + data.length;
  const grown = end > content.length ? Buffer.concat([content, Buffer.alloc(end - content.length)]) : content;
  if (!sectors) {
    data.copy(grown, position);
    return grown;
  }
  const first = Math.floor(position / SECTOR);
  sectors.forEach((keep, i) => {
    if (!keep) return;
    const from = Math.max(position, (first + i) * SECTOR);
    const to = Math.min(end, (first + i + 1) * SECTOR);
    if (to > from) data.copy(grown, from, from - position, to - position);
  });
  return grown;
}

// ---- recovery and the checks ------------------------------------------------------------------------

interface Outcome {
  /** What went wrong (empty: the state passed). */
  problems: string[];
  /** The phase the state file recorded at the crash, or 'none' without one. */
  crashedIn: string;
  /** How the job ended after recovery. */
  ended: string;
  commitRefused: boolean;
}

async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => (timer = setTimeout(() => reject(new Error(`stuck: ${what} after ${ms} ms`)), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function readBits(file: Buffer | undefined): ((region: number) => boolean) | null {
  if (!file || file.length < DRL_HEADER_BYTES + Math.ceil(REGIONS / 8) || file.toString('latin1', 0, 8) !== 'TERNDRL1') return null;
  return (region) => ((file[DRL_HEADER_BYTES + (region >> 3)] ?? 0) & (1 << (region & 7))) !== 0;
}

/** Before recovery: the DRL (before the switch) or the rollback log (after it) names every region where the plexes differ. */
function checkLogs(files: Map<string, Buffer>, paths: Paths, state: PersistedState): string[] {
  const source = files.get(paths.source);
  const target = files.get(paths.target);
  if (!source || !target) return ['a LUN file is missing'];
  const logFile = path.join(paths.state, state.switched ? `job-${JOB_ID}.rollback.drl` : `job-${JOB_ID}.drl`);
  const bits = readBits(files.get(logFile));
  const problems: string[] = [];
  for (let region = 0; region < REGIONS; region++) {
    const range = [region * REGION_BYTES, (region + 1) * REGION_BYTES] as const;
    if (source.subarray(...range).equals(target.subarray(...range))) continue;
    if (bits?.(region)) continue;
    problems.push(`region ${region} differs between source and target but ${path.basename(logFile)} ${bits ? 'does not name it' : 'is missing or unreadable'} (state ${state.phase}${state.switched ? ', switched' : ''})`);
  }
  return problems;
}

/** Runs the agent's recovery on the files at `paths` and checks the outcome against the ledger. */
async function recoverAndCheck(paths: Paths, files: Map<string, Buffer>, scenario: Pick<Scenario, 'end'>, ledger: Ledger, cut: number, variant: Variant): Promise<Outcome> {
  const stateFile = MigrationJob.stateFileFor(paths.state, JOB_ID);
  const mustKeep = variant === 'keep' ? 'acknowledged' : 'flushed';
  const outcome: Outcome = { problems: [], crashedIn: 'none', ended: 'no job', commitRefused: false };
  const text = files.get(stateFile);
  if (!text) {
    // The job had not started (its state file was not durable): the volume is the source, untouched.
    outcome.problems.push(...checkImage(files.get(paths.source)!, ledger, cut, mustKeep));
    return outcome;
  }
  let recorded: PersistedState;
  try {
    recorded = JSON.parse(text.toString('utf8')) as PersistedState;
  } catch (error) {
    outcome.problems.push(`the state file does not parse: ${(error as Error).message} (${text.length} B)`);
    return outcome;
  }
  outcome.crashedIn = `${recorded.phase}${recorded.switched ? '/switched' : ''}`;
  if (!isFinalPhase(recorded.phase)) outcome.problems.push(...checkLogs(files, paths, recorded));

  const opened: Plex[] = [];
  let job: MigrationJob | null = null;
  try {
    if (!isFinalPhase(recorded.phase)) {
      const primary = authoritativePlex(recorded);
      const plex = await Plex.open({ ...primary, state: 'active' });
      opened.push(plex);
      const volume = new Volume('vol', VOLUME_BYTES, REGION_BYTES, plex);
      job = await MigrationJob.resume(volume, paths.state, JOB_ID);
      opened.push(job.source, job.target);
      job.on('error', () => undefined); // the outcome is in the state file
      await job.setThrottle(null);
      void job.run();
      const settled: JobPhase[] = ['verified', 'committed', 'rolled-back', 'cancelled', 'failed'];
      let phase = await within(job.until('ready', ...settled), PHASE_TIMEOUT_MS, `waiting for ready or verified (${job.phase})`);
      if (phase === 'ready') {
        job.cutoverNow();
        phase = await within(job.until(...settled), PHASE_TIMEOUT_MS, `waiting for verified after cutoverNow (${job.phase})`);
      }
      if (phase === 'verified') {
        let end: End = scenario.end === 'rollback' || recorded.phase === 'rolling-back' ? 'rollback' : 'commit';
        if (end === 'commit') {
          try {
            await within(job.commit(), PHASE_TIMEOUT_MS, 'commit');
          } catch (error) {
            if (!/verification found mismatched regions/.test((error as Error).message)) throw error;
            // The job says to roll back; an operator would.
            outcome.commitRefused = true;
            end = 'rollback';
          }
        }
        if (end === 'rollback') await within(job.rollback(), PHASE_TIMEOUT_MS, 'rollback');
      }
    }
    const final = await MigrationJob.recordedStatus(paths.state, JOB_ID);
    outcome.ended = final.phase + (final.phase === 'failed' ? `: ${final.error ?? final.result ?? '(no reason)'}` : '');
    if (!['committed', 'rolled-back', 'failed'].includes(final.phase)) outcome.problems.push(`the job ended ${final.phase}, not committed, rolled back or failed`);
    if (final.phase === 'failed' && !final.error) outcome.problems.push('the job failed without a reason');
    if (final.verify && !final.verify.ok) outcome.problems.push(`verification found mismatched regions ${final.verify.mismatchedRegions.join(', ')}`);
    // Read the LUN whole, as the volume would serve it.
    const authoritative = authoritativePlex(final);
    outcome.problems.push(...checkImage(await readFile(authoritative.lunPath), ledger, cut, mustKeep).map((problem) => `${path.basename(authoritative.lunPath)}: ${problem}`));
  } catch (error) {
    outcome.problems.push(`recovery threw: ${(error as Error).message}`);
  } finally {
    await job?.close().catch(() => undefined);
    for (const plex of new Set(opened)) await plex.close().catch(() => undefined);
  }
  return outcome;
}

async function writeFiles(paths: Paths, files: Map<string, Buffer>) {
  await rm(paths.root, { recursive: true, force: true });
  await mkdir(paths.luns, { recursive: true });
  await mkdir(paths.state, { recursive: true });
  for (const [file, content] of files) await writeFile(file, content);
}

/** Keeps a failing state's files and ledger for TERN_POWER_LOSS_REPLAY; returns the folder. */
async function keepState(paths: Paths, files: Map<string, Buffer>, record: object, ledger: Ledger): Promise<string> {
  await mkdir(KEEP_DIR, { recursive: true });
  const folder = await mkdtemp(path.join(KEEP_DIR, 'state-'));
  await mkdir(path.join(folder, 'files'));
  const names: Record<string, string> = {};
  let n = 0;
  for (const [file, content] of files) {
    const kept = `${n++}-${path.basename(file)}`;
    names[kept] = file;
    await writeFile(path.join(folder, 'files', kept), content);
  }
  const json = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (v === Number.POSITIVE_INFINITY ? null : v));
  await writeFile(path.join(folder, 'crash-state.json'), json({ ...record, root: paths.root, files: names, ledger }));
  return folder;
}

// ---- one scenario: record, then every crash state ----------------------------------------------------

interface Recording {
  recorder: Recorder;
  ledger: Ledger;
  summary: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SETTLED: JobPhase[] = ['verified', 'committed', 'rolled-back', 'cancelled', 'failed'];

/** Fresh LUNs (the source with data in its first half, the target empty, both sparse) and a recorder that knows them. */
async function prepare(paths: Paths): Promise<Recorder> {
  await rm(paths.root, { recursive: true, force: true });
  await mkdir(paths.luns, { recursive: true });
  await mkdir(paths.state, { recursive: true });
  const base = Buffer.concat(Array.from({ length: SECTORS }, (_, sector) => baseSector(sector)));
  const zeros = Buffer.alloc(VOLUME_BYTES);
  for (const [file, content] of [
    [paths.source, base],
    [paths.target, zeros],
  ] as const) {
    const handle = await open(file, 'w');
    await handle.write(content, 0, content.length / 2, 0);
    await handle.truncate(VOLUME_BYTES);
    await handle.sync();
    await handle.close();
  }
  const recorder = new Recorder();
  recorder.addBase(paths.source, base);
  recorder.addBase(paths.target, zeros);
  return recorder;
}

function jobOptions(paths: Paths, strategy: Strategy, cutover: 'auto' | 'manual', throttleBytesPerS: number | null) {
  return {
    id: JOB_ID,
    strategy,
    target: { name: 'vol-02', lunId: 'tgt', lunPath: paths.target },
    throttleBytesPerS,
    pauseBudgetMs: 100,
    cutover,
    stateDir: paths.state,
    checkpointIntervalMs: 0,
  };
}

/** One recorded run: the writer writes from before the start to after the commit or rollback. */
async function record(paths: Paths, scenario: Scenario): Promise<Recording> {
  const recorder = await prepare(paths);
  recorder.start();
  const opened: Plex[] = [];
  let job: MigrationJob | null = null;
  try {
    const source = await Plex.open({ name: 'vol-01', lunId: 'src', lunPath: paths.source, state: 'active' });
    opened.push(source);
    const volume = new Volume('vol', VOLUME_BYTES, REGION_BYTES, source);
    const writer = new Writer(volume, recorder, scenario.seed);
    writer.start();
    await sleep(20);
    job = await MigrationJob.start(volume, jobOptions(paths, scenario.strategy, scenario.cutover, 2 * 1024 * KiB));
    opened.push(job.target);
    const errors: string[] = [];
    job.on('error', (error) => errors.push(error.message));
    void job.run();
    if (scenario.cutover === 'manual') {
      // The operator cuts over once the job is ready, or after a while whatever is left.
      await Promise.race([job.until('ready', ...SETTLED), sleep(900)]);
      if (!job.status.switched && !isFinalPhase(job.phase)) job.cutoverNow();
    }
    const phase = await within(job.until(...SETTLED), 30_000, `the recorded run waiting for verified (${job.phase})`);
    if (phase !== 'verified') throw new Error(`the recorded run ended ${phase}: ${job.status.error ?? job.status.result}`);
    await sleep(80); // writes after the switch, logged in the rollback log
    if (scenario.end === 'commit') await job.commit();
    else await job.rollback();
    await sleep(40); // writes after the end
    await writer.stop();
    if (errors.length > 0) throw new Error(`the recorded job reported errors: ${errors.join('; ')}`);
    const status = job.status;
    const summary =
      `${writer.stats.writes} writes (${writer.stats.fua} FUA), ${writer.stats.flushes} flushes, ${status.passes.length} passes, ` +
      `cutover pause ${status.cutoverPauseMs} ms, ended ${status.phase}${status.strategy !== status.originalStrategy ? ` (turned ${status.strategy})` : ''}`;
    return { recorder, ledger: writer.ledger(), summary };
  } finally {
    recorder.stop();
    await job?.close().catch(() => undefined);
    for (const plex of new Set(opened)) await plex.close().catch(() => undefined);
  }
}

/** The op at which the state file that records the switch is fsynced (its rename follows), or null. */
function switchRecordedAt(recorder: Recorder): number | null {
  const index = recorder.ops.findIndex((op) => op.kind === 'sync' && recorder.inodes[op.inode]?.state?.switched === true);
  return index < 0 ? null : index;
}

/** Which cuts to visit first: those around a change of phase or switch in the state file, then spread evenly. */
function orderCuts(recorder: Recorder, cuts: number[]): number[] {
  const key: number[] = [];
  let last = '';
  recorder.ops.forEach((op, index) => {
    if (op.kind !== 'sync') return;
    const state = recorder.inodes[op.inode]?.state;
    if (!state) return;
    const now = `${state.phase}/${state.switched}`;
    if (now === last) return;
    last = now;
    // The temp file is durable, its rename not yet; then the folder fsync after it.
    key.push(index + 1);
    const dirsync = recorder.ops.findIndex((later, at) => at > index && later.kind === 'dirsync');
    if (dirsync > 0) key.push(dirsync + 1);
  });
  const rest: number[] = [];
  const bits = Math.max(1, Math.ceil(Math.log2(cuts.length)));
  for (let i = 0; i < 2 ** bits; i++) {
    let reversed = 0;
    for (let b = 0; b < bits; b++) if (i & (1 << b)) reversed |= 1 << (bits - 1 - b);
    if (reversed < cuts.length) rest.push(cuts[reversed]!);
  }
  return [...new Set([cuts[0]!, cuts[cuts.length - 1]!, ...key, ...rest])];
}

interface Tally {
  states: number;
  cuts: number;
  cutsInLog: number;
  ops: number;
  byVariant: Record<Variant, number>;
  crashedIn: Record<string, number>;
  ended: Record<string, number>;
  commitRefused: number;
  failures: string[];
  /** Cuts after the switch checked again without the assumed source flush (the known bug): checked, failing, sample. */
  unflushedSource: { checked: number; failing: number; lostFlushedWrites: number; commitRefused: number; sample: string | null };
}

function drop(cut: number): CrashState {
  return { cut, variant: 'drop', seed: 0, writes: new Map(), dirOps: 0 };
}

async function runScenario(root: string, scenario: Scenario): Promise<Tally> {
  const paths = pathsUnder(path.join(root, scenario.name));
  const recording = await record(paths, scenario);
  const recorder = recording.recorder;
  const switchAt = switchRecordedAt(recorder);
  // `asIs` re-checks the post-switch cuts with every unsynced write dropped (see the top of this file).
  const states = new CrashStates(recorder);
  const asIs = new CrashStates(recorder);
  const cuts = states.cuts();
  const chosen: CrashState[] = [];
  const visited = new Set<number>();
  const seen = new Map<number, Set<string>>();
  const order = orderCuts(recorder, cuts);
  for (let round = 0; chosen.length < STATES_PER_SCENARIO && round < 16; round++) {
    for (const cut of order) {
      if (chosen.length >= STATES_PER_SCENARIO) break;
      visited.add(cut);
      if (!seen.has(cut)) seen.set(cut, new Set());
      chosen.push(...states.variants(cut, scenario.seed, round, seen.get(cut)!).slice(0, STATES_PER_SCENARIO - chosen.length));
    }
  }
  chosen.sort((a, b) => a.cut - b.cut);
  const tally: Tally = {
    states: 0,
    cuts: visited.size,
    cutsInLog: cuts.length,
    ops: recorder.ops.length,
    byVariant: { keep: 0, drop: 0, subset: 0, torn: 0 },
    crashedIn: {},
    ended: {},
    commitRefused: 0,
    failures: [],
    unflushedSource: { checked: 0, failing: 0, lostFlushedWrites: 0, commitRefused: 0, sample: null },
  };
  const describeState = (state: CrashState, outcome: Outcome) =>
    `${scenario.name} cut ${state.cut} (after ${recorder.describeOp(state.cut - 1)}), variant ${state.variant}, seed ${state.seed}; crashed in ${outcome.crashedIn}, ended ${outcome.ended}${outcome.commitRefused ? ' (commit refused)' : ''}`;
  let lastCut = -1;
  for (const state of chosen) {
    if (switchAt !== null && state.cut > switchAt && state.cut !== lastCut) {
      // After the switch: the same cut without the assumed source flush, every unsynced write dropped.
      const withFlush = states.filesOf(drop(state.cut));
      const without = asIs.filesOf(drop(state.cut));
      if (!withFlush.get(paths.source)!.equals(without.get(paths.source)!)) {
        await writeFiles(paths, without);
        const outcome = await recoverAndCheck(paths, without, scenario, recording.ledger, state.cut, 'drop');
        tally.unflushedSource.checked++;
        if (outcome.commitRefused) tally.unflushedSource.commitRefused++;
        if (outcome.problems.length > 0) {
          tally.unflushedSource.failing++;
          if (outcome.problems.some((problem) => problem.includes('by a flush') || problem.includes('by FUA'))) tally.unflushedSource.lostFlushedWrites++;
          tally.unflushedSource.sample ??= `${describeState(drop(state.cut), outcome)}: ${outcome.problems.slice(0, 3).join('; ')}`;
        }
      }
    }
    lastCut = state.cut;
    const files = states.filesOf(state);
    await writeFiles(paths, files);
    const outcome = await recoverAndCheck(paths, files, scenario, recording.ledger, state.cut, state.variant);
    tally.states++;
    tally.byVariant[state.variant]++;
    tally.crashedIn[outcome.crashedIn] = (tally.crashedIn[outcome.crashedIn] ?? 0) + 1;
    const ended = outcome.ended.replace(/:.*/, '');
    tally.ended[ended] = (tally.ended[ended] ?? 0) + 1;
    if (outcome.commitRefused) tally.commitRefused++;
    if (outcome.problems.length === 0) continue;
    const description = describeState(state, outcome);
    const kept = await keepState(paths, files, { scenario, cut: state.cut, variant: state.variant, seed: state.seed, description }, recording.ledger).catch((error: unknown) => `(not kept: ${(error as Error).message})`);
    tally.failures.push(`${description}:\n    ${outcome.problems.join('\n    ')}\n    files and ledger kept in ${kept}`);
  }
  const known = tally.unflushedSource;
  console.log(
    `power loss, ${scenario.name}: recorded ${recording.summary}; ${tally.ops} ops, ${tally.cutsInLog} durability points, ` +
      `${tally.cuts} cut, ${tally.states} crash states checked (${Object.entries(tally.byVariant).map(([k, v]) => `${k} ${v}`).join(', ')}); ` +
      `crashed in ${JSON.stringify(tally.crashedIn)}; ended ${JSON.stringify(tally.ended)}; commit refused ${tally.commitRefused}; failing ${tally.failures.length}.` +
      `\n  Post-switch cuts with every unsynced write dropped: ${known.checked} where the plexes differ, ${known.failing} fail (${known.lostFlushedWrites} lose a flushed write, ${known.commitRefused} refuse the commit)` +
      (known.sample ? `, e.g. ${known.sample}` : ''),
  );
  await rm(paths.root, { recursive: true, force: true });
  return tally;
}

// ---- the tests ------------------------------------------------------------------------------------

let root: string;
const started = performance.now();
const checked: { strategy: Strategy; states: number; unflushedSourceFailing: number }[] = [];

beforeAll(async () => {
  // tmpfs where there is one: every crash state writes 2 MiB of LUNs and fsyncs its state file.
  root = await mkdtemp(path.join(existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'tern-power-loss-'));
});
afterAll(async () => {
  setPlexOpenHook(null);
  setDrlOpenHook(null);
  observeDurableFile(null);
  await rm(root, { recursive: true, force: true });
  if (checked.length === 0) return;
  const sum = (strategy: Strategy) => checked.filter((tally) => tally.strategy === strategy).reduce((total, tally) => total + tally.states, 0);
  const failing = checked.reduce((total, tally) => total + tally.unflushedSourceFailing, 0);
  console.log(
    `power loss: ${sum('mirror') + sum('precopy')} crash states checked (mirror ${sum('mirror')}, precopy ${sum('precopy')}) in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
      `${failing} post-switch cuts fail with every unsynced write dropped`,
  );
});

const scenarios: Scenario[] = [
  { name: 'mirror-commit', strategy: 'mirror', cutover: 'auto', end: 'commit', seed: SEED + 1 },
  { name: 'mirror-rollback', strategy: 'mirror', cutover: 'auto', end: 'rollback', seed: SEED + 2 },
  { name: 'precopy-commit', strategy: 'precopy', cutover: 'manual', end: 'commit', seed: SEED + 3 },
  { name: 'precopy-rollback', strategy: 'precopy', cutover: 'manual', end: 'rollback', seed: SEED + 4 },
];

describe.runIf(!process.env.TERN_POWER_LOSS_REPLAY)('power loss: recorded migration, every crash state recovered', () => {
  it.each(scenarios)('$name: flushed writes survive power loss, acknowledged ones kill -9, and recovery ends the job', async (scenario) => {
    const tally = await runScenario(root, scenario);
    checked.push({ strategy: scenario.strategy, states: tally.states, unflushedSourceFailing: tally.unflushedSource.failing });
    expect(tally.states, `${scenario.name}: crash states checked`).toBeGreaterThanOrEqual(Math.min(STATES_PER_SCENARIO, 50));
    expect(tally.failures, `${scenario.name}: ${tally.failures.length} of ${tally.states} crash states failed:\n  ${tally.failures.slice(0, 8).join('\n  ')}`).toEqual([]);
  }, 600_000);

  // After the switch a FLUSH reaches only the target; a write acknowledged before the switch must
  // therefore be on the source's disk by then, or power loss leaves the source differing from the
  // target outside the rollback log, and a rollback serves the stale source. The cutover flushes
  // both plexes with writes held (migration-job.ts switchToTarget); it flushed only the target.
  it('a write acknowledged before the switch and flushed after it survives power loss and a rollback', async () => {
    const paths = pathsUnder(path.join(root, 'unflushed-source'));
    const recorder = await prepare(paths);
    recorder.start();
    const opened: Plex[] = [];
    let job: MigrationJob | null = null;
    let writer: Writer;
    let cut: number;
    try {
      const source = await Plex.open({ name: 'vol-01', lunId: 'src', lunPath: paths.source, state: 'active' });
      opened.push(source);
      const volume = new Volume('vol', VOLUME_BYTES, REGION_BYTES, source);
      writer = new Writer(volume, recorder, SEED);
      job = await MigrationJob.start(volume, jobOptions(paths, 'precopy', 'manual', null));
      opened.push(job.target);
      void job.run();
      await within(job.until('ready', ...SETTLED), 10_000, 'ready');
      // 1. A write to region 3, acknowledged, not flushed.
      expect(await writer.write((3 * REGION_BYTES) / SECTOR, 8, false)).toBe(true);
      // 2. The cutover copies region 3 and flushes the target, not the source.
      job.cutoverNow();
      expect(await within(job.until(...SETTLED), 10_000, 'verified')).toBe('verified');
      // 3. A FLUSH after the switch covers the write: it is durable on the target.
      await writer.flush();
      cut = recorder.now();
    } finally {
      recorder.stop();
      await job?.close().catch(() => undefined);
      for (const plex of new Set(opened)) await plex.close().catch(() => undefined);
    }
    // 4. Power is lost right after the FLUSH: what no fsync covered is gone (the source's copy of the write).
    expect(recorder.ops[cut - 1]?.kind).toBe('sync');
    const files = new CrashStates(recorder).filesOf(drop(cut));
    await writeFiles(paths, files);
    // 5. The agent restarts (the job is verified, the target authoritative) and the operator rolls back.
    const outcome = await recoverAndCheck(paths, files, { end: 'rollback' }, writer.ledger(), cut, 'drop');
    expect(outcome.problems, `crashed in ${outcome.crashedIn}, ended ${outcome.ended}`).toEqual([]);
  }, 60_000);
});
describe.runIf(!!process.env.TERN_POWER_LOSS_REPLAY)('power loss: replay of a kept crash state', () => {
  it('recovers the kept state and checks it again', async () => {
    const folder = process.env.TERN_POWER_LOSS_REPLAY!;
    const kept = JSON.parse(await readFile(path.join(folder, 'crash-state.json'), 'utf8')) as {
      scenario: Scenario;
      cut: number;
      variant: Variant;
      description: string;
      root: string;
      files: Record<string, string>;
      ledger: { writes: (Omit<AppWrite, 'ackedAt' | 'coveredAt'> & { ackedAt: number | null; coveredAt: number | null })[] };
    };
    const paths = pathsUnder(kept.root);
    const files = new Map<string, Buffer>();
    for (const [name, file] of Object.entries(kept.files)) files.set(file, await readFile(path.join(folder, 'files', name)));
    await writeFiles(paths, files);
    const infinity = (value: number | null) => value ?? Number.POSITIVE_INFINITY;
    const ledger: Ledger = { writes: kept.ledger.writes.map((write) => ({ ...write, ackedAt: infinity(write.ackedAt), coveredAt: infinity(write.coveredAt) })) };
    const outcome = await recoverAndCheck(paths, files, kept.scenario, ledger, kept.cut, kept.variant).finally(() => rm(paths.root, { recursive: true, force: true }));
    console.log(`replayed ${kept.description}: crashed in ${outcome.crashedIn}, ended ${outcome.ended}`);
    expect(outcome.problems, kept.description).toEqual([]);
  }, 120_000);
});
