import 'server-only';
/**
 * Owns migration telemetry: the agent's samples copied into `migration_samples` (at most one a
 * second per migration, each stored once whichever path brought it) and published on the bus.
 *
 * Agents push each job's samples as they take them (POST /api/agent/v1/samples, recordPushedSamples),
 * so a subscriber sees a sample within milliseconds rather than at the engine's next tick. The
 * engine's step still pulls (ingestSamples) when what is stored lags what the agent reports: an
 * agent that cannot push (an older version, a console route it cannot reach) loses nothing.
 */
import { desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { migrations, migrationSamples, volumes } from '@/db/schema';
import { bus, type MigrationSampleRow } from '@/server/events/bus';
import { agentClient, type AgentTarget } from '@/server/fleet/agent-client';
import { authenticateAgent } from '@/server/fleet/heartbeat';
import type { MigrationSample, SampleReport, SampleReportResponse } from '@/server/protocol/agent-api';

/** How far what is stored may trail the agent's newest sample before the engine pulls the gap. */
export const PUSH_GRACE_MS = 3_000;

const holder = globalThis as unknown as { ternSampleNudges?: Set<string> };
/**
 * Migrations whose samples show their job leaving steady copying (ready, cutting over, verifying,
 * failed…): the engine follows them at its next tick instead of within STEADY_FOLLOW_MS. Fed by
 * every sample on the bus, so a sample stored by another replica (relayed by LISTEN/NOTIFY)
 * nudges the replica that holds the lease too. Shared through globalThis by the route handlers'
 * and the engine's module instances.
 */
const nudges = (holder.ternSampleNudges ??= (() => {
  const set = new Set<string>();
  bus.subscribe('sample', (row) => {
    if (row.phase !== 'copying' && row.phase !== 'converging') set.add(row.migrationId);
  });
  return set;
})());

/** The migrations nudged since the last call: their jobs left steady copying, so the engine follows them this tick. */
export function takeNudges(): Set<string> {
  const taken = new Set(nudges);
  nudges.clear();
  return taken;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Stores each migration's samples, one per second at most (the first of a second wins), skipping
 * any already stored (the unique (migration, at) index), and publishes the new rows in time order.
 */
export interface SampleBatch {
  migrationId: string;
  samples: MigrationSample[];
  /** Only samples of later seconds are stored (the newest second already stored). */
  afterSecond?: number;
}

/** Rows per INSERT: 12 parameters each, well under PostgreSQL's 65,535 per statement. */
const INSERT_CHUNK_ROWS = 2_000;

export async function storeSamples(db: Db, batches: SampleBatch[]): Promise<MigrationSampleRow[]> {
  const fresh = [];
  for (const { migrationId, samples, afterSecond = -Infinity } of batches) {
    let lastSecond = afterSecond;
    for (const sample of samples) {
      const at = new Date(sample.at);
      const second = Math.floor(at.getTime() / 1000);
      if (Number.isNaN(second) || second <= lastSecond) continue;
      lastSecond = second;
      fresh.push({
        migrationId,
        at,
        phase: sample.phase,
        pass: sample.pass,
        leftBytes: Math.round(sample.leftBytes),
        thresholdBytes: sample.thresholdBytes === null ? null : Math.round(sample.thresholdBytes),
        copiedBytes: Math.round(sample.bytesCopied),
        copyRateBytesPerS: Math.round(sample.copyRateBytesPerS),
        writeRateBytesPerS: Math.round(sample.writeRateBytesPerS),
        writeLatencyP50Us: sample.writeLatencyP50Ms === null ? null : Math.round(sample.writeLatencyP50Ms * 1000),
        writeLatencyP99Us: sample.writeLatencyP99Ms === null ? null : Math.round(sample.writeLatencyP99Ms * 1000),
        throttleBytesPerS: sample.throttleBytesPerS,
      });
    }
  }
  const rows: MigrationSampleRow[] = [];
  for (let start = 0; start < fresh.length; start += INSERT_CHUNK_ROWS) {
    const chunk = fresh.slice(start, start + INSERT_CHUNK_ROWS);
    rows.push(...(await db.insert(migrationSamples).values(chunk).onConflictDoNothing({ target: [migrationSamples.migrationId, migrationSamples.at] }).returning()));
  }
  rows.sort((a, b) => a.at.getTime() - b.at.getTime());
  for (const row of rows) bus.publish('sample', row);
  return rows;
}

/**
 * Pulls the samples the agent took since the newest stored one, unless pushes keep up: when the
 * agent's newest sample (`agentNewestAt`, from the job's status) is within PUSH_GRACE_MS of what
 * is stored, there is nothing to fetch.
 */
export async function ingestSamples(db: Db, migrationId: string, host: AgentTarget, agentNewestAt?: string): Promise<MigrationSampleRow[]> {
  const [last] = await db
    .select({ at: migrationSamples.at })
    .from(migrationSamples)
    .where(eq(migrationSamples.migrationId, migrationId))
    .orderBy(desc(migrationSamples.at))
    .limit(1);
  if (agentNewestAt && last && Date.parse(agentNewestAt) - last.at.getTime() <= PUSH_GRACE_MS) return [];
  const samples = await agentClient.migrationSamples(db, host, migrationId, last?.at.toISOString());
  return storeSamples(db, [{ migrationId, samples, afterSecond: last ? Math.floor(last.at.getTime() / 1000) : undefined }]);
}

/** How long a pushing agent's verified credential is trusted without asking the database again. */
export const PUSH_AUTH_TTL_MS = 5_000;
/** How long a push waits for others to share its INSERT. */
const PUSH_BATCH_MS = 20;

/**
 * Per database handle: the credentials verified lately (a fenced host's pushes are refused within
 * PUSH_AUTH_TTL_MS; a push only ever adds telemetry), which host each migration belongs to (it
 * never changes), and the pushes waiting to be written together. At 500 migrations pushing once
 * a second this turns three queries per push into about one INSERT per PUSH_BATCH_MS.
 */
class PushIngest {
  private readonly verified = new Map<string, { hostId: string; until: number }>();
  private readonly owners = new Map<string, string>();
  private waiting: { batches: SampleBatch[]; resolve: (rows: MigrationSampleRow[]) => void; reject: (error: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Db) {}

  async hostOf(authorization: string | null | undefined): Promise<string> {
    const now = Date.now();
    const known = authorization ? this.verified.get(authorization) : undefined;
    if (known && known.until > now) return known.hostId;
    const host = await authenticateAgent(this.db, authorization, 'sample report');
    if (this.verified.size > 10_000) this.verified.clear();
    this.verified.set(authorization!, { hostId: host.id, until: now + PUSH_AUTH_TTL_MS });
    return host.id;
  }

  /** The ids among `ids` that are migrations of volumes on the host. */
  async ownedBy(hostId: string, ids: string[]): Promise<Set<string>> {
    const unknown = ids.filter((id) => UUID.test(id) && !this.owners.has(id));
    if (unknown.length) {
      const found = await this.db
        .select({ id: migrations.id, hostId: volumes.hostId })
        .from(migrations)
        .innerJoin(volumes, eq(volumes.id, migrations.volumeId))
        .where(inArray(migrations.id, unknown));
      if (this.owners.size > 100_000) this.owners.clear();
      for (const row of found) this.owners.set(row.id, row.hostId);
    }
    return new Set(ids.filter((id) => this.owners.get(id) === hostId));
  }

  store(batches: SampleBatch[]): Promise<MigrationSampleRow[]> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ batches, resolve, reject });
      this.timer ??= setTimeout(() => void this.flush(), PUSH_BATCH_MS);
    });
  }

  private async flush() {
    const waiting = this.waiting;
    this.waiting = [];
    this.timer = undefined;
    try {
      const rows = await storeSamples(this.db, waiting.flatMap((push) => push.batches));
      // Each stored row is answered to the first push that carried its sample.
      const unclaimed = new Map(rows.map((row) => [`${row.migrationId}@${row.at.getTime()}`, row]));
      for (const push of waiting) {
        const mine = [];
        for (const { migrationId, samples } of push.batches) {
          for (const sample of samples) {
            const key = `${migrationId}@${Date.parse(sample.at)}`;
            const row = unclaimed.get(key);
            if (row) mine.push(row);
            unclaimed.delete(key);
          }
        }
        push.resolve(mine);
      }
    } catch (error) {
      if (waiting.length === 1) return waiting[0]!.reject(error);
      // One push's rows must not fail the others': write each on its own.
      for (const push of waiting) await storeSamples(this.db, push.batches).then(push.resolve, push.reject);
    }
  }
}

const ingests = ((globalThis as unknown as { ternPushIngests?: WeakMap<Db, PushIngest> }).ternPushIngests ??= new WeakMap());

/**
 * Records what an agent pushed: only samples of migrations of volumes on the agent's own host are
 * stored; the rest are named in `ignored` (the agent stops sending them). Answers once the
 * samples are stored, so what the agent counts as acknowledged is in the database.
 */
export async function recordPushedSamples(db: Db, authorization: string | null | undefined, report: SampleReport): Promise<SampleReportResponse> {
  let ingest = ingests.get(db);
  if (!ingest) ingests.set(db, (ingest = new PushIngest(db)));
  const hostId = await ingest.hostOf(authorization);
  const ours = await ingest.ownedBy(hostId, report.migrations.map((m) => m.id));
  const batches = report.migrations.filter((m) => ours.has(m.id)).map((m) => ({ migrationId: m.id, samples: m.samples }));
  const rows = batches.length ? await ingest.store(batches) : [];
  return { stored: rows.length, ignored: report.migrations.filter((m) => !ours.has(m.id)).map((m) => m.id) };
}
