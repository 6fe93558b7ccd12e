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
import { and, desc, eq, inArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { migrations, migrationSamples, volumes } from '@/db/schema';
import { bus, type MigrationSampleRow } from '@/server/events/bus';
import { agentClient, type AgentTarget } from '@/server/fleet/agent-client';
import { authenticateAgent } from '@/server/fleet/heartbeat';
import type { MigrationSample, SampleReport, SampleReportResponse } from '@/server/protocol/agent-api';

/** How far what is stored may trail the agent's newest sample before the engine pulls the gap. */
export const PUSH_GRACE_MS = 3_000;

const holder = globalThis as unknown as { ternSampleNudges?: Set<string> };
/** Migrations whose pushed samples show a change the engine should act on now (route handlers and the engine share it through globalThis). */
const nudges = (holder.ternSampleNudges ??= new Set());

/** The migrations nudged since the last call: their jobs left steady copying (or paused), so the engine follows them this tick. */
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
export async function storeSamples(db: Db, batches: { migrationId: string; samples: MigrationSample[]; afterSecond?: number }[]): Promise<MigrationSampleRow[]> {
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
  if (fresh.length === 0) return [];
  const rows = await db
    .insert(migrationSamples)
    .values(fresh)
    .onConflictDoNothing({ target: [migrationSamples.migrationId, migrationSamples.at] })
    .returning();
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

/**
 * Records what an agent pushed: only samples of migrations of volumes on the agent's own host are
 * stored; the rest are named in `ignored` (the agent stops sending them).
 */
export async function recordPushedSamples(db: Db, authorization: string | null | undefined, report: SampleReport): Promise<SampleReportResponse> {
  const host = await authenticateAgent(db, authorization, 'sample report');
  const ids = report.migrations.map((m) => m.id).filter((id) => UUID.test(id));
  const owned = ids.length
    ? await db
        .select({ id: migrations.id })
        .from(migrations)
        .innerJoin(volumes, eq(volumes.id, migrations.volumeId))
        .where(and(inArray(migrations.id, ids), eq(volumes.hostId, host.id)))
    : [];
  const ours = new Set(owned.map((m) => m.id));
  for (const { id, samples } of report.migrations) {
    if (ours.has(id) && samples.some((sample) => sample.paused || (sample.phase !== 'copying' && sample.phase !== 'converging'))) nudges.add(id);
  }
  const rows = await storeSamples(
    db,
    report.migrations.filter((m) => ours.has(m.id)).map((m) => ({ migrationId: m.id, samples: m.samples })),
  );
  return { stored: rows.length, ignored: report.migrations.filter((m) => !ours.has(m.id)).map((m) => m.id) };
}
