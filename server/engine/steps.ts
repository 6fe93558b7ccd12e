import 'server-only';
/**
 * Owns the one step the reconciler runs for a migration in each state. Every step is idempotent:
 * it reads what exists (target LUN by its deterministic name, mapping, agent job) and does only
 * what is missing, so a step cut short by a crash is simply run again. No transaction is held
 * across an agent call; state changes go through `transition`, guarded by the lease epoch, and
 * every command to the agent carries that epoch: an agent that has seen a newer one refuses it
 * (`stale-epoch`), which means another replica took the migration over, so the step stops there.
 */
import { and, eq } from 'drizzle-orm';
import type { Db, Tx } from '@/db/open';
import { arrays, hosts, lunMappings, luns, migrations, volumes } from '@/db/schema';
import { ArrayError, openDriver } from '@/server/arrays';
import type { EventRow } from '@/server/events/bus';
import { appendEvent, publishEvents, type Actor } from '@/server/events/log';
import { AgentCallError, agentClient, type AgentTarget } from '@/server/fleet/agent-client';
import { createLun, isMapped, mapLun } from '@/server/fleet/arrays';
import { formatBytes } from '@/server/format';
import { logger } from '@/server/log';
import type { MigrationStatus } from '@/server/protocol/agent-api';
import { causeOf, consoleState, progressOf } from './agent-status';
import type { CutoverPolicy, MigrationRow } from './create';
import { serializeAdmission, underLease } from './lease';
import { passEvents, type PassEvent } from './pass-events';
import { ingestSamples } from './samples';
import type { ThrottleShare } from './scheduler';
import { planTick, type Directive } from './tick-plan';
import { transition } from './transition';
import { describeWindow, windowState } from './window';

export const engineActor: Actor = { kind: 'system', name: 'engine' };


/** The target LUN's name, derived from the migration id so that a retried prepare finds it. */
export const targetLunName = (migrationId: string) => `mig-${migrationId}`;

interface Context {
  row: MigrationRow;
  host: AgentTarget & { state: string };
  volume: { id: string; nbdExport: string; sizeBytes: number; regionSizeBytes: number };
  /** What the scheduler decided for this migration this tick (tick-plan.ts). */
  directive: Directive;
  now: Date;
}

async function context(db: Db, row: MigrationRow, directive: Directive, now: Date): Promise<Context> {
  const [found] = await db
    .select({
      host: { id: hosts.id, hostname: hosts.hostname, agentUrl: hosts.agentUrl, state: hosts.state },
      volume: { id: volumes.id, nbdExport: volumes.nbdExport, sizeBytes: volumes.sizeBytes, regionSizeBytes: volumes.regionSizeBytes },
    })
    .from(volumes)
    .innerJoin(hosts, eq(hosts.id, volumes.hostId))
    .where(eq(volumes.id, row.volumeId));
  if (!found) throw new Error(`migration ${row.id}: volume ${row.volumeId} is gone`);
  return { row, ...found, directive, now };
}

/**
 * Runs the step for the migration's state, acting on the scheduler's directive for it (admit,
 * throttle, window pause or resume); an unreachable agent is recorded, not acted on. A queued
 * migration the scheduler chose is added to `admissions` when given, else admitted at once.
 */
export async function runStep(db: Db, row: MigrationRow, directive: Directive = {}, now = new Date(), admissions?: MigrationRow[]): Promise<void> {
  const ctx = await context(db, row, directive, now);
  // A fenced host's agent is not trusted: its migrations stay as they are (fencing.ts marked them).
  if (ctx.host.state === 'fenced') return;
  try {
    switch (row.state) {
      case 'queued':
        // Admissions are gathered for admitChosen when the caller collects them (the reconciler does).
        if (!directive.admit) return;
        return admissions ? void admissions.push(row) : await admitChosen(db, [row], now);
      case 'preparing':
        return await prepare(db, ctx);
      case 'committing':
        return await releaseSource(db, ctx);
      case 'paused':
        // Paused before the agent had the job: nothing runs anywhere until resumed.
        if (!row.agentStatus) return;
        if (directive.window?.action === 'resume') return await windowAction(db, ctx, directive.window.cause);
        return await follow(db, ctx);
      default:
        if (directive.window?.action === 'pause') return await windowAction(db, ctx, directive.window.cause);
        if (directive.throttle) ctx.row = await applyThrottle(db, ctx, directive.throttle);
        return await follow(db, ctx);
    }
  } catch (error) {
    if (error instanceof AgentCallError && error.code === 'unreachable') return markUnreachable(db, ctx, error);
    // This replica lost the lease while the step ran: the new owner drives the migration now, so
    // no transition and no unreachable marking (its guarded writes would be refused anyway).
    if (error instanceof AgentCallError && error.code === 'stale-epoch') return lostLease(ctx, error);
    throw error;
  }
}

/**
 * Admits, in one transaction under the admission lock, the queued migrations the scheduler chose
 * this tick. Other replicas plan from their own reads, so the choice is made again under the lock,
 * where every admission committed before is visible: slots cannot be filled twice. One plan
 * serves all of the tick's admissions (it chose them together), not one plan per admission.
 */
export async function admitChosen(db: Db, rows: MigrationRow[], now = new Date()): Promise<void> {
  if (rows.length === 0) return;
  await db.transaction(async (tx) => {
    await serializeAdmission(tx);
    const { directives } = await planTick(tx, now);
    for (const row of rows) {
      const cause = directives.get(row.id)?.admit;
      if (cause) await transition(tx, row, { to: 'preparing', cause, actor: engineActor, guard: underLease(row) });
    }
  });
}

/** Sets the agent's copy-rate limit to the job's share of its arrays' budgets (or its own limit). */
async function applyThrottle(db: Db, { row, host, volume }: Context, share: ThrottleShare): Promise<MigrationRow> {
  await agentClient.setMigrationThrottle(db, host, row.id, share.bytesPerS, row.leaseEpoch);
  const limit = share.bytesPerS === null ? 'unlimited' : `${formatBytes(share.bytesPerS)}/s`;
  const changed = await transition(db, row, {
    to: row.state,
    kind: 'migration.throttle-changed',
    cause: `${volume.nbdExport}: copy rate limit set to ${limit} by the engine: ${share.reason}`,
    actor: engineActor,
    detail: { appliedThrottleBytesPerS: share.bytesPerS },
    guard: underLease(row),
  });
  return changed ?? row;
}

/** Pauses a copying job when its evacuation's window closes, or resumes one the engine paused when it opens. */
async function windowAction(db: Db, { row, host, volume }: Context, cause: string) {
  const pausing = row.state !== 'paused';
  const status = await agentClient.migrationAction(db, host, row.id, pausing ? 'pause' : 'resume', row.leaseEpoch);
  await transition(db, row, {
    to: pausing ? 'paused' : consoleState(status, row.state),
    cause: `${volume.nbdExport}: ${pausing ? 'paused' : 'resumed'} by the engine: ${cause}`,
    actor: engineActor,
    patch: progressOf(status, volume.regionSizeBytes),
    detail: pausing ? { pausedBy: 'window' } : { resumedBy: 'window' },
    guard: underLease(row),
  });
}

/** Target LUN on the target array, mapped to the host, job started on the agent. */
async function prepare(db: Db, ctx: Context) {
  const { row, host, volume } = ctx;
  const name = targetLunName(row.id);
  let [lun] = await db.select().from(luns).where(and(eq(luns.arrayId, row.targetArrayId), eq(luns.name, name)));
  if (!lun) {
    const [array] = await db.select().from(arrays).where(eq(arrays.id, row.targetArrayId));
    if (!array) throw new Error(`migration ${row.id}: target array ${row.targetArrayId} is gone`);
    // A crash between the driver's create and the row's insert leaves a LUN only the array knows:
    // no job can have used it (the agent learns of a LUN by its row id), so start it afresh.
    const driver = openDriver(array);
    if ((await driver.listLuns()).some((l) => l.name === name)) await driver.deleteLun(name);
    lun = await createLun(db, engineActor, { arrayId: array.id, name, sizeBytes: volume.sizeBytes });
  }
  if (row.targetLunId !== lun.id) {
    await db.update(migrations).set({ targetLunId: lun.id, updatedAt: new Date() }).where(and(eq(migrations.id, row.id), underLease(row)));
  }
  if (!(await isMapped(db, lun.id, host.id))) await mapLun(db, engineActor, { lunId: lun.id, hostId: host.id });
  const policy = row.cutoverPolicy as Partial<CutoverPolicy>;
  let status;
  try {
    status = await agentClient.startMigration(db, host, {
      id: row.id,
      volume: volume.nbdExport,
      targetLunId: lun.id,
      strategy: row.strategy,
      // The job starts at its share of the arrays' budgets, which the scheduler computed this tick.
      throttleBytesPerS: ctx.directive.throttle ? ctx.directive.throttle.bytesPerS : row.throttleBytesPerS,
      // In a window the engine, not the agent, decides when to switch.
      cutover: policy.mode === 'manual' || policy.mode === 'window' ? 'manual' : 'auto',
    }, row.leaseEpoch);
  } catch (error) {
    if (!(error instanceof AgentCallError && error.code === 'migration-exists')) throw error;
    status = await agentClient.migration(db, host, row.id, row.leaseEpoch);
  }
  const to = consoleState(status, row.strategy === 'mirror' ? 'syncing' : 'copying');
  await transition(db, row, {
    to,
    cause: `${volume.nbdExport}: target LUN ${name} (${formatBytes(lun.sizeBytes)}) mapped to ${host.hostname}; agent started the ${row.strategy} job`,
    actor: engineActor,
    patch: { targetLunId: lun.id, agentUnreachableSince: null, ...progressOf(status, volume.regionSizeBytes) },
    guard: underLease(row),
  });
}

/** Follows a running job: state, progress and samples from the agent; cutover in the window; auto-commit when verified. */
async function follow(db: Db, ctx: Context) {
  const { row, host, volume } = ctx;
  const status = await agentClient.migration(db, host, row.id, row.leaseEpoch);
  await ingestSamples(db, row.id, host, status.sample?.at);
  const policy = row.cutoverPolicy as Partial<CutoverPolicy>;
  const to = consoleState(status, row.state);
  const patch = { ...progressOf(status, volume.regionSizeBytes), agentUnreachableSince: null };
  let current: MigrationRow | undefined = row;
  // Passes the agent finished since the last look are explained in events, with the row that
  // records them; a tick with no finished pass (nearly all of them) is a plain update.
  const finished = passEvents(row.agentStatus as MigrationStatus | null, status, volume.regionSizeBytes);
  const explainPasses = (tx: Tx) => appendPassEvents(tx, row.id, status.volume, finished);
  if (to === row.state) {
    const update = (q: Db | Tx) =>
      q
        .update(migrations)
        .set({ ...patch, updatedAt: new Date() })
        .where(and(eq(migrations.id, row.id), eq(migrations.state, row.state), underLease(row)))
        .returning({ id: migrations.id });
    const explained =
      finished.length === 0
        ? (await update(db), [])
        : await db.transaction(async (tx) => ((await update(tx)).length ? explainPasses(tx) : []));
    publishEvents(...explained);
    if (row.agentUnreachableSince) await recordReachable(db, row, host);
  } else {
    const cause =
      to === 'ready' && policy.mode === 'window' && policy.window
        ? `${volume.nbdExport}: converged after pass ${status.pass}; the engine cuts over inside window ${describeWindow(policy.window)}, the copy keeps up meanwhile`
        : causeOf(status, to);
    current = await transition(db, row, { to, cause, actor: engineActor, patch, guard: underLease(row), within: explainPasses });
  }
  if (current?.state === 'ready' && status.phase === 'ready' && !status.paused && policy.mode === 'window' && policy.window && windowState(policy, ctx.now).open) {
    const switched = await agentClient.migrationAction(db, host, row.id, 'cutover', row.leaseEpoch);
    const next = consoleState(switched, current.state);
    current = await transition(db, current, {
      to: next,
      kind: next === current.state ? 'migration.cutover-requested' : undefined,
      cause: `${volume.nbdExport}: cut over by the engine inside window ${describeWindow(policy.window)}; agent reports ${switched.phase}`,
      actor: engineActor,
      patch: progressOf(switched, volume.regionSizeBytes),
      guard: underLease(row),
    });
  }
  if (current?.state === 'verified' && status.phase === 'verified' && policy.commit === 'auto' && status.verify?.ok) {
    const committed = await agentClient.migrationAction(db, host, row.id, 'commit', row.leaseEpoch);
    const next = consoleState(committed, current.state);
    if (next !== current.state) {
      await transition(db, current, { to: next, cause: `${causeOf(committed, next)} (commit is automatic for this migration)`, actor: engineActor, patch: progressOf(committed, volume.regionSizeBytes), guard: underLease(row) });
    }
  }
}

/** After the agent committed: the source LUN is unmapped from the host and deleted on its array. */
async function releaseSource(db: Db, { row, host, volume }: Context) {
  const status = await agentClient.migration(db, host, row.id, row.leaseEpoch);
  if (status.phase !== 'committed') return;
  const [source] = row.sourceLunId ? await db.select().from(luns).where(eq(luns.id, row.sourceLunId)) : [];
  const [array] = source ? await db.select().from(arrays).where(eq(arrays.id, source.arrayId)) : [];
  if (source && array) {
    await agentClient.unmapLun(db, host, source.id);
    const driver = openDriver(array);
    await ignoreMissing(driver.unmapLun(source.name, host.id));
    await ignoreMissing(driver.deleteLun(source.name));
  }
  await transition(db, row, {
    to: 'completed',
    cause: `${volume.nbdExport} now lives on the target LUN; source LUN ${row.sourceLunName ?? '?'} unmapped from ${host.hostname} and deleted`,
    actor: engineActor,
    patch: { completedAt: new Date(), agentStatus: status as unknown as Record<string, unknown>, dirtyBytes: 0, etaSeconds: null, agentUnreachableSince: null },
    guard: underLease(row),
    within: async (tx) => {
      if (!source || !array) return [];
      await tx.delete(lunMappings).where(eq(lunMappings.lunId, source.id));
      await tx.delete(luns).where(eq(luns.id, source.id));
      const event: EventRow = await appendEvent(tx, {
        kind: 'lun.deleted',
        actor: engineActor,
        object: { kind: 'lun', id: source.id, name: `${array.name}/${source.name}` },
        message: `LUN ${array.name}/${source.name} deleted: migration of ${volume.nbdExport} committed`,
        before: { arrayId: array.id, name: source.name, wwn: source.wwn, sizeBytes: source.sizeBytes },
      });
      return [event];
    },
  });
}

/** Awaits an array call, treating "no such LUN or mapping" as already done. */
async function appendPassEvents(tx: Tx, migrationId: string, volume: string, finished: PassEvent[]): Promise<EventRow[]> {
  const explained = [];
  for (const event of finished) explained.push(await appendEvent(tx, { ...event, actor: engineActor, object: { kind: 'migration', id: migrationId, name: volume } }));
  return explained;
}

export async function ignoreMissing(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof ArrayError && error.code === 'not-found')) throw error;
  }
}

async function markUnreachable(db: Db, { row }: Context, error: AgentCallError) {
  if (row.agentUnreachableSince) return;
  const event = await db.transaction(async (tx) => {
    const [updated] = await tx
      .update(migrations)
      .set({ agentUnreachableSince: new Date() })
      .where(and(eq(migrations.id, row.id), underLease(row)))
      .returning({ id: migrations.id });
    if (!updated) return undefined;
    return appendEvent(tx, {
      kind: 'migration.agent-unreachable',
      severity: 'warning',
      actor: engineActor,
      object: { kind: 'migration', id: row.id },
      message: `${error.message}; the migration stays ${row.state} and continues when the agent answers`,
    });
  });
  if (event) publishEvents(event);
}

function lostLease({ row, host }: Context, error: AgentCallError) {
  logger.info('lost the lease of a migration to another console replica; leaving it to the new owner', {
    migrationId: row.id,
    leaseEpoch: row.leaseEpoch,
    host: host.hostname,
    error: error.message,
  });
}

async function recordReachable(db: Db, row: MigrationRow, host: AgentTarget) {
  const since = row.agentUnreachableSince;
  if (!since) return;
  publishEvents(
    await appendEvent(db, {
      kind: 'migration.agent-reachable',
      actor: engineActor,
      object: { kind: 'migration', id: row.id },
      message: `agent on ${host.hostname} answers again after ${Math.round((Date.now() - since.getTime()) / 1000)} s`,
    }),
  );
}
