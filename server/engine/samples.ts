import 'server-only';
/**
 * Owns migration telemetry: the agent's samples copied into `migration_samples` (at most one a
 * second per migration, resuming after the newest stored one) and published on the bus.
 */
import { desc, eq } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { migrationSamples } from '@/db/schema';
import { bus, type MigrationSampleRow } from '@/server/events/bus';
import { agentClient, type AgentTarget } from '@/server/fleet/agent-client';

export async function ingestSamples(db: Db, migrationId: string, host: AgentTarget): Promise<MigrationSampleRow[]> {
  const [last] = await db
    .select({ at: migrationSamples.at })
    .from(migrationSamples)
    .where(eq(migrationSamples.migrationId, migrationId))
    .orderBy(desc(migrationSamples.at))
    .limit(1);
  const samples = await agentClient.migrationSamples(db, host, migrationId, last?.at.toISOString());
  let lastSecond = last ? Math.floor(last.at.getTime() / 1000) : -Infinity;
  const fresh = [];
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
  if (fresh.length === 0) return [];
  const rows = await db.insert(migrationSamples).values(fresh).returning();
  for (const row of rows) bus.publish('sample', row);
  return rows;
}
