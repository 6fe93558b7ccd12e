import 'server-only';
/**
 * Owns what the Migrate dialog offers for one volume (docs/ui.md §3.7): the volume and its source,
 * every array as a target with why it can or cannot take the volume, and the strategy the
 * convergence model recommends from the host's measured copy rates and the volume's write rate.
 * Every array is listed, the ineligible ones with their reason, so nothing is silently hidden.
 */
import { and, desc, eq, gt, inArray, isNull, notInArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, diskGroups, hosts, luns, migrationSamples, migrations, plexes, volumes } from '@/db/schema';
import { TERMINAL_STATES } from '@/server/engine/migration-states';
import { FleetError } from './errors';
import { listArrays } from './queries';
import { reachableArrays } from './reachability';
import { DEFAULT_COPY_RATE_BYTES_PER_S, planningWriteRate, recommendStrategy } from './strategy-model';
import { acceptsNewVolumes, isLowerTier, noSpaceReason, notAcceptingReason, unreachableReason } from './target-rules';

/** Copy rates older than this say little about the host's paths today. */
const COPY_RATE_HISTORY_MS = 7 * 24 * 3_600_000;
const COPY_RATE_SAMPLES = 600;
/** Fewer unthrottled samples than this, and the default copy rate is used. */
const MIN_COPY_RATE_SAMPLES = 5;

export type TargetIneligibility = 'same-array' | 'offline' | 'unreachable' | 'no-space';

export async function migrationOptions(db: Db, input: { volumeId: string; throttleBytesPerS?: number | null }) {
  const [volume] = await db
    .select({
      id: volumes.id,
      name: volumes.name,
      nbdExport: volumes.nbdExport,
      sizeBytes: volumes.sizeBytes,
      writeRateBytesPerS: volumes.writeRateBytesPerS,
      writeRateP95BytesPerS: volumes.writeRateP95BytesPerS,
      diskGroup: diskGroups.name,
      hostId: hosts.id,
      hostname: hosts.hostname,
      hostState: hosts.state,
    })
    .from(volumes)
    .innerJoin(hosts, eq(hosts.id, volumes.hostId))
    .innerJoin(diskGroups, eq(diskGroups.id, volumes.diskGroupId))
    .where(eq(volumes.id, input.volumeId));
  if (!volume) throw new FleetError('not-found', `volume ${input.volumeId} does not exist`);

  const [source] = await db
    .select({ arrayId: arrays.id, arrayName: arrays.name, tier: arrays.tier })
    .from(plexes)
    .innerJoin(luns, eq(luns.id, plexes.lunId))
    .innerJoin(arrays, eq(arrays.id, luns.arrayId))
    .where(and(eq(plexes.volumeId, volume.id), eq(plexes.state, 'active')));
  const [activeMigration] = await db
    .select({ id: migrations.id, state: migrations.state })
    .from(migrations)
    .where(and(eq(migrations.volumeId, volume.id), notInArray(migrations.state, [...TERMINAL_STATES])));
  const reachable = await reachableArrays(db, volume.hostId);
  const copy = await hostCopyRate(db, volume.hostId);

  const targets = (await listArrays(db)).map((array) => {
    const afterBytes = array.provisionedBytes + volume.sizeBytes;
    const ineligible: { code: TargetIneligibility; reason: string } | null =
      array.id === source?.arrayId
        ? { code: 'same-array', reason: 'the volume is already on this array' }
        : !acceptsNewVolumes(array.state)
          ? { code: 'offline', reason: notAcceptingReason(array.state) }
          : !reachable.has(array.id)
            ? { code: 'unreachable', reason: unreachableReason(volume.hostname) }
            : array.freeBytes < volume.sizeBytes
              ? { code: 'no-space', reason: noSpaceReason(array.freeBytes, volume.sizeBytes) }
              : null;
    return {
      id: array.id,
      name: array.name,
      tier: array.tier,
      state: array.state,
      capacityBytes: array.capacityBytes,
      usedBytes: array.provisionedBytes,
      freeBytes: array.freeBytes,
      /** Used after the move, if the volume moved here. */
      usedAfterBytes: ineligible ? array.provisionedBytes : afterBytes,
      reachable: reachable.has(array.id),
      lowerTier: source ? isLowerTier(array.tier, source.tier) : false,
      eligible: ineligible === null,
      ineligible: ineligible?.code ?? null,
      reason: ineligible?.reason ?? null,
    };
  });
  // Eligible arrays first (same or better tier before lower tiers), then the ineligible ones.
  const rank = (t: (typeof targets)[number]) => (t.eligible ? (t.lowerTier ? 1 : 0) : 2);
  targets.sort((a, b) => rank(a) - rank(b) || a.tier - b.tier || b.freeBytes - a.freeBytes || a.name.localeCompare(b.name));

  const recommendation = recommendStrategy({
    sizeBytes: volume.sizeBytes,
    ...planningWriteRate(volume),
    copyRateBytesPerS: copy.bytesPerS,
    copyRateBasis: copy.basis,
    throttleBytesPerS: input.throttleBytesPerS,
  });

  const blockedReason =
    activeMigration !== undefined
      ? `volume is already migrating (${activeMigration.state})`
      : volume.hostState !== 'connected'
        ? `host ${volume.hostname} is ${volume.hostState}; a migration starts only on a connected host`
        : !source
          ? `volume ${volume.nbdExport} has no active plex on a LUN the console knows; wait for the host's next heartbeat`
          : null;

  return {
    volume: {
      id: volume.id,
      name: volume.name,
      diskGroup: volume.diskGroup,
      nbdExport: volume.nbdExport,
      sizeBytes: volume.sizeBytes,
      hostId: volume.hostId,
      hostname: volume.hostname,
      hostState: volume.hostState,
      writeRateBytesPerS: volume.writeRateBytesPerS,
      writeRateP95BytesPerS: volume.writeRateP95BytesPerS,
      source: source ? { arrayId: source.arrayId, arrayName: source.arrayName, tier: source.tier } : null,
    },
    activeMigration: activeMigration ?? null,
    /** Why no migration can start now; null when one can. */
    blockedReason,
    targets,
    recommendation,
  };
}

/**
 * The copy rate this host's migrations reached lately: the median of their unthrottled samples,
 * or the default when there are too few of them.
 */
export async function hostCopyRate(db: Db, hostId: string, now = new Date()) {
  return measuredCopyRate(db, hostId, now);
}

/**
 * The same figure over the whole fleet when `hostId` is null: what one evacuation job is expected
 * to reach without limits (the evacuation planner's default copy rate).
 */
export async function measuredCopyRate(db: Db, hostId: string | null, now = new Date()): Promise<{ bytesPerS: number; basis: 'measured' | 'default'; samples: number }> {
  const hostMigrations =
    hostId === null ? undefined : db.select({ id: migrations.id }).from(migrations).innerJoin(volumes, eq(volumes.id, migrations.volumeId)).where(eq(volumes.hostId, hostId));
  const rows = await db
    .select({ rate: migrationSamples.copyRateBytesPerS })
    .from(migrationSamples)
    .where(
      and(
        hostMigrations ? inArray(migrationSamples.migrationId, hostMigrations) : undefined,
        gt(migrationSamples.at, new Date(now.getTime() - COPY_RATE_HISTORY_MS)),
        gt(migrationSamples.copyRateBytesPerS, 0),
        isNull(migrationSamples.throttleBytesPerS),
      ),
    )
    .orderBy(desc(migrationSamples.at))
    .limit(COPY_RATE_SAMPLES);
  if (rows.length < MIN_COPY_RATE_SAMPLES) return { bytesPerS: DEFAULT_COPY_RATE_BYTES_PER_S, basis: 'default', samples: rows.length };
  const sorted = rows.map((row) => row.rate).sort((a, b) => a - b);
  const middle = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { bytesPerS: Math.round(median), basis: 'measured', samples: rows.length };
}
