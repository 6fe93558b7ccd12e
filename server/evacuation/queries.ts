import 'server-only';
/**
 * Owns what pages read about evacuations (docs/ui.md §3.11): the list, the detail (plan as approved,
 * its migrations, actual and planned burndown, prediction, target load, window), the "safe to
 * decommission" checks computed from the database, the printable report, and the events a
 * resumed `onProgress` replays.
 */
import { and, asc, desc, eq, gt, inArray, isNull, max, or, sql } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrayHostPaths, arrays, events, evacuationSamples, evacuations, hosts, lunMappings, luns, migrations, plexes, volumes } from '@/db/schema';
import { listMigrations } from '@/server/engine/queries';
import { holdsSlot, isCopying } from '@/server/engine/scheduler';
import { windowState, type CutoverWindow } from '@/server/engine/window';
import { FleetError } from '@/server/fleet/errors';
import { listArrays } from '@/server/fleet/queries';
import { effectiveLimits, type LimitsOverride } from './options';
import type { PlanResult } from './plan-types';
import { approvedPlan, type EvacuationRollup, type EvacuationRow, type EvacuationState } from './rollup';

const MAX_BURNDOWN_POINTS = 1_000;

export async function evacuationById(db: Db, id: string): Promise<EvacuationRow> {
  const [row] = await db.select().from(evacuations).where(eq(evacuations.id, id));
  if (!row) throw new FleetError('not-found', `evacuation ${id} does not exist`);
  return row;
}

async function arrayNames(db: Db): Promise<Map<string, string>> {
  return new Map((await db.select({ id: arrays.id, name: arrays.name }).from(arrays)).map((a) => [a.id, a.name]));
}

const targetIdsOf = (row: EvacuationRow) => [...new Set(Object.values(row.placement as Record<string, string>))];

function toListRow(row: EvacuationRow, names: Map<string, string>) {
  const named = (id: string) => ({ id, name: names.get(id) ?? id });
  return {
    id: row.id,
    state: row.state,
    sources: row.sourceArrayIds.map(named),
    targets: targetIdsOf(row).map(named),
    rollup: row.rollup as unknown as EvacuationRollup,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    startedAt: row.startedAt,
    endedAt: row.endedAt,
  };
}

export type EvacuationListRow = ReturnType<typeof toListRow>;

export async function listEvacuations(db: Db, input: { states?: EvacuationState[]; limit: number }): Promise<EvacuationListRow[]> {
  const rows = await db
    .select()
    .from(evacuations)
    .where(input.states?.length ? inArray(evacuations.state, input.states) : undefined)
    .orderBy(desc(evacuations.createdAt))
    .limit(input.limit);
  const names = await arrayNames(db);
  return rows.map((row) => toListRow(row, names));
}

export async function evacuationListRow(db: Db, id: string): Promise<EvacuationListRow> {
  return toListRow(await evacuationById(db, id), await arrayNames(db));
}

/** Keeps at most `maxPoints` of a series, always the last. */
function thin<T>(points: T[], maxPoints: number): T[] {
  if (points.length <= maxPoints) return points;
  const step = Math.ceil(points.length / maxPoints);
  return points.filter((_, i) => i % step === 0 || i === points.length - 1);
}

export interface DecommissionCheck {
  name: string;
  /** null: cannot confirm (with why in `detail`). */
  ok: boolean | null;
  detail: string;
}

/**
 * The five checks of docs/ui.md §3.11.3, from the database. What hosts report (plexes, mappings) is
 * only as fresh as their last inventory, so a host that reaches a source and is not connected
 * makes those checks "cannot confirm" unless they already fail.
 */
export async function safeToDecommission(db: Db, row: EvacuationRow): Promise<{ safe: boolean; checks: DecommissionCheck[] }> {
  const sourceIds = row.sourceArrayIds;
  const plan = approvedPlan(row);
  const sources = await db.select({ id: arrays.id, name: arrays.name, allHosts: arrays.allHosts }).from(arrays).where(inArray(arrays.id, sourceIds));
  const where = sources.map((s) => s.name).join(', ');
  const moved = await db.select({ state: migrations.state, agentStatus: migrations.agentStatus }).from(migrations).where(eq(migrations.evacuationId, row.id));
  const excluded = new Set((plan?.cannotMove ?? []).filter((c) => c.code === 'excluded').map((c) => c.volumeId)).size;
  const total = moved.length + excluded;
  const committed = moved.filter((m) => m.state === 'completed').length;
  const verified = moved.filter((m) => (m.agentStatus as { verify?: { ok?: boolean } } | null)?.verify?.ok === true).length;

  const remainingLuns = await db.select({ name: luns.name }).from(luns).where(inArray(luns.arrayId, sourceIds)).orderBy(asc(luns.name));
  const plannedLuns = (plan?.sources ?? []).reduce((n, s) => n + s.luns, 0);
  const deletedLuns = Math.max(0, plannedLuns - remainingLuns.length);
  const mappings = await db
    .select({ lun: luns.name, host: hosts.hostname })
    .from(lunMappings)
    .innerJoin(luns, eq(luns.id, lunMappings.lunId))
    .innerJoin(hosts, eq(hosts.id, lunMappings.hostId))
    .where(inArray(luns.arrayId, sourceIds));
  const plexRows = await db
    .select({ plex: plexes.name, lun: luns.name })
    .from(plexes)
    .innerJoin(luns, eq(luns.id, plexes.lunId))
    .where(inArray(luns.arrayId, sourceIds));
  // Hosts that reach a source: every host when the array is zoned to all, else those with a path.
  const zonedToAll = sources.some((s) => s.allHosts);
  const reaching = zonedToAll
    ? await db.select({ hostname: hosts.hostname, state: hosts.state }).from(hosts)
    : await db
        .selectDistinct({ hostname: hosts.hostname, state: hosts.state })
        .from(arrayHostPaths)
        .innerJoin(hosts, eq(hosts.id, arrayHostPaths.hostId))
        .where(inArray(arrayHostPaths.arrayId, sourceIds));
  const silent = reaching.filter((h) => h.state !== 'connected' && h.state !== 'pending');
  const unconfirmed = silent.length ? `cannot confirm: ${silent.length} host${silent.length === 1 ? '' : 's'} not reporting (${silent.slice(0, 5).map((h) => h.hostname).join(', ')})` : null;
  const some = (items: string[]) => `${items.slice(0, 5).join(', ')}${items.length > 5 ? ` and ${items.length - 5} more` : ''}`;

  const checks: DecommissionCheck[] = [
    {
      name: 'volumes committed',
      ok: total > 0 && committed === total,
      detail: `${committed} of ${total} volumes committed on their targets${excluded ? `; ${excluded} excluded stay on ${where}` : ''}`,
    },
    {
      name: 'volumes verified',
      ok: total > 0 && verified === total,
      detail: `${verified} of ${total} verified: full checksum match`,
    },
    {
      name: 'source LUNs released and deleted',
      ok: remainingLuns.length === 0,
      detail: remainingLuns.length
        ? `${remainingLuns.length} LUN${remainingLuns.length === 1 ? '' : 's'} still on ${where}: ${some(remainingLuns.map((l) => l.name))}`
        : `${deletedLuns} of ${plannedLuns} source LUNs released and deleted on ${where}`,
    },
    {
      name: 'no host maps a source LUN',
      ok: mappings.length ? false : unconfirmed ? null : true,
      detail: mappings.length
        ? `${mappings.length} mapping${mappings.length === 1 ? '' : 's'} remain: ${some(mappings.map((m) => `${m.lun} → ${m.host}`))}`
        : (unconfirmed ?? `no host maps a LUN on ${where} (checked against ${reaching.length} agent${reaching.length === 1 ? '' : 's'})`),
    },
    {
      name: 'no plex on the source',
      ok: plexRows.length ? false : unconfirmed ? null : true,
      detail: plexRows.length ? `${plexRows.length} plex${plexRows.length === 1 ? '' : 'es'} remain on ${where}: ${some(plexRows.map((p) => `${p.plex} on ${p.lun}`))}` : (unconfirmed ?? `no volume plex remains on ${where}`),
    },
  ];
  return { safe: checks.every((c) => c.ok === true), checks };
}

/** Per target of the plan: jobs and bandwidth now against its limits, and free space once the plan's remaining LUNs are made. */
async function targetLoad(db: Db, row: EvacuationRow, limitsOverride: LimitsOverride) {
  const limits = await effectiveLimits(db, limitsOverride);
  const targetIds = targetIdsOf(row);
  if (!targetIds.length) return [];
  const jobs = await db
    .select({ targetArrayId: migrations.targetArrayId, state: migrations.state, hasJob: sql<boolean>`${migrations.agentStatus} is not null`, rate: migrations.copyRateBytesPerS })
    .from(migrations)
    .where(inArray(migrations.targetArrayId, targetIds));
  const incoming = await db
    .select({ targetArrayId: migrations.targetArrayId, bytes: sql<number>`coalesce(sum(${volumes.sizeBytes}), 0)`.mapWith(Number) })
    .from(migrations)
    .innerJoin(volumes, eq(volumes.id, migrations.volumeId))
    .where(and(eq(migrations.evacuationId, row.id), isNull(migrations.targetLunId), inArray(migrations.state, ['queued', 'preparing', 'paused'])))
    .groupBy(migrations.targetArrayId);
  const arraysNow = (await listArrays(db)).filter((a) => targetIds.includes(a.id));
  return arraysNow.map((array) => {
    const onIt = jobs.filter((j) => j.targetArrayId === array.id);
    return {
      arrayId: array.id,
      name: array.name,
      runningJobs: onIt.filter(holdsSlot).length,
      jobLimit: limits.perTargetArray,
      bytesPerS: onIt.filter(isCopying).reduce((n, j) => n + (j.rate ?? 0), 0),
      budgetBytesPerS: limits.arrayBandwidthBytesPerS[array.id] ?? null,
      freeAfterBytes: array.freeBytes - (incoming.find((i) => i.targetArrayId === array.id)?.bytes ?? 0),
    };
  });
}

export async function getEvacuation(db: Db, id: string, now = new Date()) {
  const row = await evacuationById(db, id);
  const names = await arrayNames(db);
  const plan = approvedPlan(row) as PlanResult;
  const rollup = row.rollup as unknown as EvacuationRollup;
  const limitsOverride = row.limits as LimitsOverride;
  const samples = await db
    .select({ at: evacuationSamples.at, leftOnSourceBytes: evacuationSamples.leftOnSourceBytes, leftToCopyBytes: evacuationSamples.leftToCopyBytes })
    .from(evacuationSamples)
    .where(eq(evacuationSamples.evacuationId, id))
    .orderBy(asc(evacuationSamples.at));
  const approvedAt = row.approvedAt?.getTime() ?? row.createdAt.getTime();
  const finish = rollup.predictedFinishAt;
  const nowMs = now.getTime();
  const window = row.window as CutoverWindow | null;
  const state = window ? windowState({ mode: 'window', window }, now) : null;
  return {
    ...toListRow(row, names),
    constraints: row.constraints,
    limits: await effectiveLimits(db, limitsOverride),
    limitsOverride,
    window,
    outsideWindow: row.outsideWindow as 'keep-copying' | 'pause',
    cutover: row.cutover as 'auto' | 'manual',
    commit: row.commitPolicy as 'auto' | 'manual',
    approvedAt: row.approvedAt,
    plan,
    migrations: await listMigrations(db, { evacuationId: id, limit: 100_000 }),
    burndown: thin(
      samples.map((s) => ({ t: s.at.getTime(), leftOnSourceBytes: s.leftOnSourceBytes, leftToCopyBytes: s.leftToCopyBytes })),
      MAX_BURNDOWN_POINTS,
    ),
    plannedBurndown: (plan?.prediction.burndown ?? []).map((p) => ({ t: approvedAt + p.t * 1000, leftBytes: p.leftBytes })),
    predicted: {
      seconds: finish
        ? { p10: Math.max(0, (finish.p10 - nowMs) / 1000), p50: Math.max(0, (finish.p50 - nowMs) / 1000), p90: Math.max(0, (finish.p90 - nowMs) / 1000) }
        : null,
      finishAt: finish,
      points: finish && row.endedAt === null ? [{ t: nowMs, leftBytes: rollup.leftOnSourceBytes }, { t: Math.max(nowMs, finish.p50), leftBytes: 0 }] : [],
    },
    targetLoad: await targetLoad(db, row, limitsOverride),
    windowState: state ? { open: state.open, opensAt: state.opensAt?.getTime() ?? null, closesAt: state.closesAt?.getTime() ?? null } : null,
    safeToDecommission: await safeToDecommission(db, row),
  };
}

/** First time each migration reached one of `kinds` (e.g. copy start, cutover). */
async function firstEventAt(db: Db, migrationIds: string[], kinds: string[]): Promise<Map<string, Date>> {
  if (!migrationIds.length) return new Map();
  const rows = await db
    .select({ id: events.objectId, at: sql<Date>`min(${events.at})`.mapWith(events.at) })
    .from(events)
    .where(and(eq(events.objectKind, 'migration'), inArray(events.objectId, migrationIds), inArray(events.kind, kinds)))
    .groupBy(events.objectId);
  return new Map(rows.filter((r) => r.id !== null).map((r) => [r.id!, r.at]));
}

interface JobVerify {
  verify?: { ok: boolean; regionsCompared: number; regionsSkipped: number; mismatchedRegions: number[]; finishedAt: string } | null;
  cutoverPauseMs?: number | null;
}

/** Every region is compared by checksum; regions the application wrote after the switch differ on purpose and are skipped. */
function verification(status: JobVerify | null): string {
  const v = status?.verify;
  if (!v) return 'not verified';
  const skipped = v.regionsSkipped > 0 ? `; ${v.regionsSkipped} written after the switch not compared` : '';
  return v.ok ? `full checksum: ${v.regionsCompared} regions match${skipped}` : `full checksum: ${v.mismatchedRegions.length} of ${v.regionsCompared} regions differ${skipped}`;
}

async function lunNamesOf(db: Db, ids: (string | null)[]) {
  const known = ids.filter((id): id is string => id !== null);
  return known.length ? db.select({ id: luns.id, name: luns.name }).from(luns).where(inArray(luns.id, known)) : [];
}

/** The printable report (docs/ui.md §3.11.4). */
export async function evacuationReport(db: Db, id: string) {
  const row = await evacuationById(db, id);
  const names = await arrayNames(db);
  const plan = approvedPlan(row);
  const rows = await listMigrations(db, { evacuationId: id, limit: 100_000 });
  const ids = rows.map((m) => m.id);
  const [copyStarts, cutovers, statuses, lunNames] = await Promise.all([
    firstEventAt(db, ids, ['migration.copying', 'migration.syncing']),
    firstEventAt(db, ids, ['migration.cutting-over', 'migration.verifying', 'migration.verified']),
    ids.length ? db.select({ id: migrations.id, agentStatus: migrations.agentStatus }).from(migrations).where(inArray(migrations.id, ids)) : Promise.resolve([]),
    lunNamesOf(db, rows.map((m) => m.targetLunId)),
  ]);
  const status = new Map(statuses.map((s) => [s.id, s.agentStatus as JobVerify | null]));
  const sources = await db.select({ id: arrays.id, name: arrays.name, vendor: arrays.vendor, model: arrays.model }).from(arrays).where(inArray(arrays.id, row.sourceArrayIds));
  return {
    evacuation: { id: row.id, state: row.state },
    sources,
    targets: targetIdsOf(row).map((tid) => ({ id: tid, name: names.get(tid) ?? tid })),
    startedAt: row.startedAt,
    endedAt: row.endedAt,
    createdBy: row.createdBy,
    approvedAt: row.approvedAt,
    limits: await effectiveLimits(db, row.limits as LimitsOverride),
    window: row.window as CutoverWindow | null,
    exclusions: (plan?.cannotMove ?? []).filter((c) => c.code === 'excluded').map((c) => ({ volume: `${c.hostname}/${c.nbdExport}`, reason: c.reason })),
    checks: (await safeToDecommission(db, row)).checks,
    volumes: rows.map((m) => ({
      host: m.hostname,
      diskGroup: m.diskGroupName,
      volume: m.volumeName,
      sizeBytes: m.volumeSizeBytes,
      // An evacuation's migrations always record their source; the row keeps it after the LUN is deleted.
      sourceArray: m.sourceArrayName ?? '',
      sourceLun: m.sourceLunName ?? '',
      targetArray: m.targetArrayName,
      targetLun: lunNames.find((l) => l.id === m.targetLunId)?.name ?? null,
      strategy: m.strategy,
      state: m.state,
      copyStartedAt: copyStarts.get(m.id) ?? null,
      cutoverAt: cutovers.get(m.id) ?? null,
      cutoverPauseMs: status.get(m.id)?.cutoverPauseMs ?? null,
      committedAt: m.completedAt,
      bytesCopied: m.bytesCopied,
      verification: verification(status.get(m.id) ?? null),
    })),
  };
}

/** Events of the evacuation and of its migrations. */
function aboutEvacuation(id: string) {
  return or(
    and(eq(events.objectKind, 'evacuation'), eq(events.objectId, id)),
    and(eq(events.objectKind, 'migration'), inArray(events.objectId, sql`(select ${migrations.id}::text from ${migrations} where ${migrations.evacuationId} = ${id})`)),
  );
}

/** The evacuation's own events after `afterId` (state changes, actions, limits), oldest first. */
export async function evacuationEventsAfter(db: Db, id: string, afterId: number, limit = 500) {
  return db
    .select()
    .from(events)
    .where(and(eq(events.objectKind, 'evacuation'), eq(events.objectId, id), gt(events.id, afterId)))
    .orderBy(asc(events.id))
    .limit(limit);
}

/** The newest event about the evacuation or one of its migrations: the position a subscription resumes from. */
export async function newestEventId(db: Db, id: string): Promise<number> {
  const [row] = await db.select({ id: max(events.id) }).from(events).where(aboutEvacuation(id));
  return row?.id ?? 0;
}
