import 'server-only';
/**
 * Owns the stored write rates of a host's volumes. Agents report them with every heartbeat; a
 * volume's row is written only when its rate moved noticeably, so a steady or idle fleet's
 * heartbeats write nothing here.
 */
import { eq } from 'drizzle-orm';
import type { Db, Tx } from '@/db/open';
import { volumes } from '@/db/schema';
import type { VolumeWriteRate } from '@/server/protocol/agent-api';

/** A change smaller than this share of the stored rate is noise. */
const RELATIVE_CHANGE = 0.1;
/** Nor is one smaller than this (a few writes more or less in a 10 s window). */
const ABSOLUTE_CHANGE_BYTES_PER_S = 4096;

export function changedNoticeably(stored: number | null, reported: number | null): boolean {
  if (stored === reported) return false;
  if (stored === null || reported === null) return true;
  // Writes stopping, or starting, always counts, however small the rate was.
  if (stored === 0 || reported === 0) return true;
  const delta = Math.abs(reported - stored);
  return delta >= ABSOLUTE_CHANGE_BYTES_PER_S && delta >= RELATIVE_CHANGE * stored;
}

/** Stores the reported rates that changed noticeably; returns how many volumes were updated. */
export async function recordWriteRates(tx: Db | Tx, hostId: string, rates: readonly VolumeWriteRate[]): Promise<number> {
  if (rates.length === 0) return 0;
  const rows = await tx
    .select({ id: volumes.id, nbdExport: volumes.nbdExport, writeRateBytesPerS: volumes.writeRateBytesPerS, writeRateP95BytesPerS: volumes.writeRateP95BytesPerS })
    .from(volumes)
    .where(eq(volumes.hostId, hostId));
  const byExport = new Map(rows.map((row) => [row.nbdExport, row]));
  let updated = 0;
  for (const rate of rates) {
    const row = byExport.get(rate.nbdExport);
    if (!row) continue;
    const current = changedNoticeably(row.writeRateBytesPerS, rate.writeRateBytesPerS);
    const p95 = changedNoticeably(row.writeRateP95BytesPerS, rate.writeRateP95BytesPerS);
    if (!current && !p95) continue;
    await tx
      .update(volumes)
      .set({
        ...(current ? { writeRateBytesPerS: rate.writeRateBytesPerS } : {}),
        ...(p95 ? { writeRateP95BytesPerS: rate.writeRateP95BytesPerS } : {}),
      })
      .where(eq(volumes.id, row.id));
    updated += 1;
  }
  return updated;
}
