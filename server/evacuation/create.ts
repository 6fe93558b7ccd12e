import 'server-only';
/**
 * Owns the approval of an evacuation: the server plans again from the live inventory, refuses
 * with the reason when the plan is blocked, when the operator's typed confirmation does not
 * match, when a source is already evacuating, when an operator excludes volumes (an admin
 * choice) or when a hand-made placement no longer holds; then in one transaction it writes the
 * evacuation (running, with the plan as approved), one queued migration per planned move in the
 * plan's order, the sources' `evacuating` state, and the events that record all of it.
 */
import { and, eq, inArray, ne } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, evacuations } from '@/db/schema';
import type { Role } from '@/server/auth/sessions';
import { checkMigration, insertMigration, type CheckedMigration } from '@/server/engine/create';
import { publishMigrationEvent } from '@/server/engine/transition';
import { bus, type EventRow } from '@/server/events/bus';
import { appendEvent, publishEvents, type Actor } from '@/server/events/log';
import { FleetError } from '@/server/fleet/errors';
import { formatBytes } from '@/server/format';
import { loadPlannerInput } from './inventory';
import { effectiveLimits, withDefaults, type ConstraintsInput, type CreateEvacuationInput, type LimitsOverride } from './options';
import type { PlannerInput, PlanResult } from './plan-types';
import { plan } from './planner';
import { computeRollup, insertSample } from './rollup';

/** What the operator types to confirm: the first source's name, plus how many others ("ARR-03 +1"). */
export function confirmPhrase(sourceNames: string[]): string {
  return sourceNames.length > 1 ? `${sourceNames[0]} +${sourceNames.length - 1}` : (sourceNames[0] ?? '');
}

/** The source arrays in the order given; refuses an unknown id. */
export async function sourceArrays(db: Db, ids: string[]) {
  const rows = ids.length ? await db.select({ id: arrays.id, name: arrays.name, state: arrays.state }).from(arrays).where(inArray(arrays.id, ids)) : [];
  return ids.map((id) => {
    const row = rows.find((a) => a.id === id);
    if (!row) throw new FleetError('not-found', `source array ${id} does not exist`);
    return row;
  });
}

/** A dry run: the plan for these choices now. Changes nothing. */
export async function planEvacuation(db: Db, input: { constraints: ConstraintsInput; limits?: LimitsOverride }): Promise<PlanResult> {
  await sourceArrays(db, input.constraints.sourceArrayIds);
  const constraints = await withDefaults(db, input.constraints);
  return plan(await loadPlannerInput(db, constraints, await effectiveLimits(db, input.limits)));
}

const listed = (items: string[], max = 5) => `${items.slice(0, max).join('; ')}${items.length > max ? `; and ${items.length - max} more` : ''}`;

/** Why the re-planned result cannot be approved as asked, or undefined. */
function planRefusal(input: PlannerInput, result: PlanResult): string | undefined {
  const blocking = result.cannotMove.filter((c) => c.code !== 'excluded');
  if (blocking.length) {
    return `the plan is blocked: ${blocking.length} plex${blocking.length === 1 ? '' : 'es'} cannot move (${listed(blocking.map((c) => `${c.nbdExport} on ${c.hostname}: ${c.reason}`))}); fix that, or have an admin exclude those volumes`;
  }
  if (!result.moves.length) return 'nothing to move: no volume plex on the source arrays is left to evacuate';
  const mirrored = result.moves.filter((move) => (input.volumes.find((v) => v.id === move.volumeId)?.plexes.length ?? 1) > 1);
  if (mirrored.length) {
    return `${mirrored.length} volume${mirrored.length === 1 ? ' is' : 's are'} mirrored (${listed(mirrored.map((m) => m.nbdExport))}); moving one plex of a mirrored volume is not supported yet. Have an admin exclude them, or detach their other plex first`;
  }
  const changed = Object.entries(input.constraints.overrides).flatMap(([key, targetId]) => {
    const move = result.moves.find((m) => m.key === key);
    const targetName = (id: string) => input.arrays.find((a) => a.id === id)?.name ?? id;
    if (!move) return [`${key} is no longer in the plan`];
    return move.targetArrayId === targetId ? [] : [`${move.nbdExport} was placed on ${targetName(targetId)} by hand; the plan now puts it on ${targetName(move.targetArrayId)} (${move.placementReason})`];
  });
  if (changed.length) return `the plan changed since it was shown: ${listed(changed)}; review the plan again`;
  return undefined;
}

export async function createEvacuation(db: Db, actor: Actor, role: Role, input: CreateEvacuationInput): Promise<{ id: string }> {
  const sources = await sourceArrays(db, input.constraints.sourceArrayIds);
  const phrase = confirmPhrase(sources.map((s) => s.name));
  if (input.confirm.trim() !== phrase) throw new FleetError('invalid', `type "${phrase}" to confirm the evacuation; got "${input.confirm}"`);
  if (input.constraints.excludedVolumeIds?.length && role !== 'admin') {
    throw new FleetError('forbidden', `excluding volumes leaves them on the source, so it is an admin's choice; you are ${role}. Ask an admin, or include every volume`);
  }
  const busy = sources.filter((s) => s.state === 'evacuating');
  if (busy.length) throw new FleetError('conflict', `${busy.map((s) => s.name).join(', ')} ${busy.length === 1 ? 'is' : 'are'} already being evacuated; wait for that evacuation to end or cancel it`);

  const constraints = await withDefaults(db, input.constraints);
  const limits = await effectiveLimits(db, input.limits);
  const plannerInput = await loadPlannerInput(db, constraints, limits);
  const result = plan(plannerInput);
  const refused = planRefusal(plannerInput, result);
  if (refused) throw new FleetError('invalid', refused);

  // Admission goes by priority, higher first: the plan's schedule order becomes the priority.
  const ordered = [...result.moves].sort((a, b) => a.scheduled.startS - b.scheduled.startS);
  const cutoverPolicy = input.window ? { mode: 'window' as const, commit: input.commit, window: input.window } : { mode: input.cutover, commit: input.commit };
  const checked: CheckedMigration[] = [];
  for (const [index, move] of ordered.entries()) {
    try {
      checked.push(
        await checkMigration(db, {
          volumeId: move.volumeId,
          sourceLunId: move.sourceLunId,
          targetArrayId: move.targetArrayId,
          strategy: move.strategy,
          cutoverPolicy,
          priority: ordered.length - index,
        }),
      );
    } catch (error) {
      if (error instanceof FleetError) throw new FleetError(error.code, `${move.nbdExport} on ${move.hostname}: ${error.message}`);
      throw error;
    }
  }

  const sourceNames = sources.map((s) => s.name).join(', ');
  const now = new Date();
  const done = await db.transaction(async (tx) => {
    const marked = await tx
      .update(arrays)
      .set({ state: 'evacuating' })
      .where(and(inArray(arrays.id, constraints.sourceArrayIds), ne(arrays.state, 'evacuating')))
      .returning({ id: arrays.id });
    if (marked.length !== sources.length) throw new FleetError('conflict', `${sourceNames}: another evacuation started meanwhile; reload and review`);
    const [row] = await tx
      .insert(evacuations)
      .values({
        sourceArrayIds: constraints.sourceArrayIds,
        constraints: { ...constraints },
        placement: Object.fromEntries(result.moves.map((m) => [m.key, m.targetArrayId])),
        limits: { ...input.limits },
        window: input.window ? { ...input.window } : null,
        outsideWindow: input.outsideWindow,
        cutover: input.cutover,
        commitPolicy: input.commit,
        plan: result as unknown as Record<string, unknown>,
        approvedAt: now,
        state: 'running',
        startedAt: now,
        createdBy: actor.name ?? 'console',
      })
      .returning();
    if (!row) throw new Error('evacuation insert returned no row');
    const created: { row: { id: string; state: 'queued' }; event: EventRow }[] = [];
    for (const move of checked) {
      const inserted = await insertMigration(tx, actor, { ...move, input: { ...move.input, evacuationId: row.id } });
      created.push({ row: { id: inserted.row.id, state: 'queued' }, event: inserted.event });
    }
    const rollup = await computeRollup(tx, row, now);
    await tx.update(evacuations).set({ rollup: { ...rollup } }).where(eq(evacuations.id, row.id));
    await insertSample(tx, row.id, rollup, now);
    const excluded = result.cannotMove.filter((c) => c.code === 'excluded');
    const events = [
      await appendEvent(tx, {
        kind: 'evacuation.created',
        actor,
        object: { kind: 'evacuation', id: row.id, name: sourceNames },
        message: `evacuation of ${sourceNames} approved by ${actor.name ?? 'console'}: ${checked.length} volume${checked.length === 1 ? '' : 's'} (${formatBytes(rollup.totalBytes)}) to ${result.targets.filter((t) => t.incomingVolumes > 0).map((t) => t.name).join(', ')}${excluded.length ? `; ${excluded.length} excluded` : ''}; predicted ${Math.round(result.prediction.seconds.p50 / 60)} min`,
        after: {
          state: 'running',
          volumes: checked.length,
          bytes: rollup.totalBytes,
          excluded: excluded.length,
          byStrategy: result.totals.byStrategy,
          window: input.window,
          outsideWindow: input.outsideWindow,
          cutover: input.cutover,
          commit: input.commit,
          limits: input.limits ?? {},
        },
      }),
    ];
    for (const source of sources) {
      events.push(
        await appendEvent(tx, {
          kind: 'array.state-changed',
          actor,
          object: { kind: 'array', id: source.id, name: source.name },
          message: `array ${source.name} is being evacuated`,
          before: { state: source.state },
          after: { state: 'evacuating', evacuationId: row.id },
        }),
      );
    }
    return { row, rollup, created, events };
  });
  publishEvents(...done.events);
  for (const { row, event } of done.created) publishMigrationEvent(row, event);
  bus.publish('evacuation', { id: done.row.id, state: 'running', rollup: { ...done.rollup } });
  return { id: done.row.id };
}
