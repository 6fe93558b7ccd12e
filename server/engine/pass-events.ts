/**
 * Owns the explanation events of a copy's passes (docs/ui.md P2: progress never jumps backwards without
 * saying why). When the agent reports passes that finished since the console last looked, each
 * becomes one event saying what it copied, how much the application re-dirtied meanwhile, and
 * whether the next pass is smaller or, with a warning, larger.
 */
import { formatBytes } from '@/server/format';
import type { MigrationStatus } from '@/server/protocol/agent-api';

export interface PassEvent {
  kind: 'migration.pass-finished';
  severity: 'info' | 'warning';
  message: string;
  after: { pass: number; copiedBytes: number; redirtiedBytes: number; bytesAtStart: number; grew: boolean };
}

const grouping = new Intl.NumberFormat('en');
const regions = (n: number, regionSizeBytes: number) => `${grouping.format(n)} ${n === 1 ? 'region' : 'regions'} (${formatBytes(n * regionSizeBytes)})`;

/** Events for the passes in `after` that `before` did not have yet, oldest first. */
export function passEvents(before: Pick<MigrationStatus, 'passes'> | null, after: Pick<MigrationStatus, 'passes' | 'volume' | 'strategy'>, regionSizeBytes: number): PassEvent[] {
  const known = new Set((before?.passes ?? []).map((p) => p.pass));
  const events: PassEvent[] = [];
  for (const pass of after.passes) {
    if (known.has(pass.pass)) continue;
    const copiedBytes = pass.copiedRegions * regionSizeBytes;
    const redirtiedBytes = pass.redirtiedRegions * regionSizeBytes;
    const bytesAtStart = pass.dirtyRegionsAtStart * regionSizeBytes;
    const what = pass.pass === 0 ? `${after.volume}: pass 0 (the whole volume) done` : `${after.volume}: pass ${pass.pass} done`;
    const copied = `copied ${regions(pass.copiedRegions, regionSizeBytes)}`;
    // Mirror writes go to both plexes, so nothing is re-dirtied: the resync only shrinks.
    if (after.strategy === 'mirror' && pass.redirtiedRegions === 0) {
      events.push({ kind: 'migration.pass-finished', severity: 'info', message: `${what}: ${copied}; new writes went to both copies`, after: { pass: pass.pass, copiedBytes, redirtiedBytes, bytesAtStart, grew: false } });
      continue;
    }
    if (pass.redirtiedRegions === 0) {
      events.push({ kind: 'migration.pass-finished', severity: 'info', message: `${what}: ${copied}; no write landed behind the copy, so nothing is left to copy again`, after: { pass: pass.pass, copiedBytes, redirtiedBytes, bytesAtStart, grew: false } });
      continue;
    }
    const grew = pass.pass > 0 && pass.redirtiedRegions > pass.dirtyRegionsAtStart;
    const next = `pass ${pass.pass + 1}`;
    const comparison = grew
      ? `${next} is larger than pass ${pass.pass}: the application wrote faster than the copy ran`
      : `${next} has ${(pass.dirtyRegionsAtStart / pass.redirtiedRegions).toFixed(1)}× less to copy`;
    events.push({
      kind: 'migration.pass-finished',
      severity: grew ? 'warning' : 'info',
      message: `${what}: ${copied}; ${regions(pass.redirtiedRegions, regionSizeBytes)} re-dirtied by application writes meanwhile, to copy again in ${next} (${comparison})`,
      after: { pass: pass.pass, copiedBytes, redirtiedBytes, bytesAtStart, grew },
    });
  }
  return events;
}
