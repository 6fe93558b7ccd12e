import 'server-only';
/**
 * Owns the evacuation planner's view of the fleet: one read of the database into a
 * `PlannerInput` — every array with its capacity, use and zoning, every host with its state,
 * and each volume with a plex on a source array, with all its plexes, write rates and the
 * migration it is in, if any. The planner itself (planner.ts) never touches the database.
 */
import { and, asc, eq, inArray, ne, notInArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrayHostPaths, arrays, diskGroups, hosts, luns, migrations, plexes, volumes } from '@/db/schema';
import { TERMINAL_STATES } from '@/server/engine/migration-states';
import { measuredCopyRate } from '@/server/fleet/migration-options';
import { listArrays } from '@/server/fleet/queries';
import { DEFAULT_COPY_RATE_BYTES_PER_S } from '@/server/fleet/strategy-model';
import type { PlanConstraints, PlanLimits, PlannerInput, PlanPlex, PlanVolume } from './plan-types';

/**
 * Reads the inventory for these choices. A detached plex is left out: it is no longer part of
 * its volume (a source kept after cutover until commit, whose volume is then still migrating).
 * `copyRateBasis` is filled in when the caller left it out: 'measured' when the copy rate equals
 * the fleet's measured one, 'default' when it is the strategy model's default.
 */
export async function loadPlannerInput(db: Db, constraints: PlanConstraints, limits: PlanLimits, now = new Date()): Promise<PlannerInput> {
  const arrayRows = await listArrays(db);
  const reach = await db.select({ id: arrays.id, allHosts: arrays.allHosts }).from(arrays);
  const paths = await db.select({ arrayId: arrayHostPaths.arrayId, hostId: arrayHostPaths.hostId }).from(arrayHostPaths).orderBy(asc(arrayHostPaths.hostId));
  const allHosts = new Map(reach.map((row) => [row.id, row.allHosts]));
  const zonedTo = new Map<string, string[]>();
  for (const path of paths) zonedTo.set(path.arrayId, [...(zonedTo.get(path.arrayId) ?? []), path.hostId]);

  const hostRows = await db.select({ id: hosts.id, hostname: hosts.hostname, state: hosts.state, stateSince: hosts.stateSince }).from(hosts).orderBy(asc(hosts.hostname));

  const onSources = db
    .selectDistinct({ id: plexes.volumeId })
    .from(plexes)
    .innerJoin(luns, eq(luns.id, plexes.lunId))
    .where(and(inArray(luns.arrayId, constraints.sourceArrayIds), ne(plexes.state, 'detached')));
  const volumeRows = await db
    .select({
      id: volumes.id,
      hostId: volumes.hostId,
      diskGroup: diskGroups.name,
      name: volumes.name,
      nbdExport: volumes.nbdExport,
      sizeBytes: volumes.sizeBytes,
      writeRateBytesPerS: volumes.writeRateBytesPerS,
      writeRateP95BytesPerS: volumes.writeRateP95BytesPerS,
    })
    .from(volumes)
    .innerJoin(diskGroups, eq(diskGroups.id, volumes.diskGroupId))
    .where(inArray(volumes.id, onSources))
    .orderBy(asc(volumes.id));
  const plexRows = await db
    .select({ volumeId: plexes.volumeId, lunId: luns.id, lunName: luns.name, arrayId: luns.arrayId })
    .from(plexes)
    .innerJoin(luns, eq(luns.id, plexes.lunId))
    .where(and(inArray(plexes.volumeId, onSources), ne(plexes.state, 'detached')))
    .orderBy(asc(plexes.name));
  const running = await db
    .select({ id: migrations.id, volumeId: migrations.volumeId, state: migrations.state })
    .from(migrations)
    .where(and(inArray(migrations.volumeId, onSources), notInArray(migrations.state, [...TERMINAL_STATES])))
    .orderBy(asc(migrations.createdAt));

  const plexesOf = new Map<string, PlanPlex[]>();
  for (const plex of plexRows) plexesOf.set(plex.volumeId, [...(plexesOf.get(plex.volumeId) ?? []), { lunId: plex.lunId, lunName: plex.lunName, arrayId: plex.arrayId }]);
  const migratingOf = new Map(running.map((migration) => [migration.volumeId, { migrationId: migration.id, state: migration.state }]));
  const planVolumes: PlanVolume[] = volumeRows.map((volume) => ({ ...volume, plexes: plexesOf.get(volume.id) ?? [], migrating: migratingOf.get(volume.id) ?? null }));

  let copyRateBasis = constraints.copyRateBasis;
  if (copyRateBasis === undefined) {
    const measured = await measuredCopyRate(db, null, now);
    if (measured.basis === 'measured' && measured.bytesPerS === constraints.expectedCopyRateBytesPerS) copyRateBasis = 'measured';
    else if (constraints.expectedCopyRateBytesPerS === DEFAULT_COPY_RATE_BYTES_PER_S) copyRateBasis = 'default';
  }

  return {
    arrays: arrayRows.map((array) => ({
      id: array.id,
      name: array.name,
      tier: array.tier,
      state: array.state,
      capacityBytes: array.capacityBytes,
      usedBytes: array.provisionedBytes,
      allHosts: allHosts.get(array.id) ?? true,
      reachableHostIds: zonedTo.get(array.id) ?? [],
      lunCount: array.lunCount,
    })),
    hosts: hostRows.map((host) => ({ id: host.id, hostname: host.hostname, state: host.state, stateSince: host.stateSince.getTime() })),
    volumes: planVolumes,
    limits,
    constraints: copyRateBasis === undefined ? constraints : { ...constraints, copyRateBasis },
  };
}
