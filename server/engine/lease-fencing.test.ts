/**
 * Agents fence stale lease epochs (docs/testing.md §7), with a real agent process and a real database
 * (PGlite, or PostgreSQL with TERN_TEST_DATABASE_URL). Console replica A drives a migration to
 * copying, then stalls past its lease (time injected as `now`, not slept); replica B takes the
 * lease with the next epoch and commands the agent through its engine step. A, waking with its
 * old row, sends a pause through its own engine step and a cutover directly: the agent refuses
 * both with 409 `stale-epoch`, the job keeps copying, and A's step leaves the row alone (no
 * transition, no unreachable marking). B's commands still work, an operator action from any
 * replica still works, and after the agent is killed with SIGKILL and restarted it still refuses
 * A's epoch. Every command is recorded with its epoch and outcome, and the history is checked:
 * epochs monotonic per migration, no stale command accepted, some refused.
 */
import { and, eq, like } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { events, hosts, migrations } from '@/db/schema';
import { AgentCallError, agentClient, type AgentTarget } from '@/server/fleet/agent-client';
import { spawnAgent, type AgentProcess } from '@/test/agent-process';
import { actor, MiB, startEngineFixture, type EngineFixture } from '@/test/engine-fixture';
import { waitFor } from '@/test/wait-for';
import { migrationAction } from './actions';
import type { MigrationRow } from './create';
import { claimLease, LEASE_MS } from './lease';
import { reconcileOnce } from './reconciler';
import { runStep } from './steps';
import type { Directive } from './tick-plan';

let fx: EngineFixture;
/** The agent process serving the host now (replaced when the test restarts it). */
let agent: AgentProcess;

beforeAll(async () => {
  fx = await startEngineFixture();
  agent = fx.agent;
}, 60_000);

afterAll(async () => {
  await fx?.close();
});

interface Claim {
  owner: string;
  epoch: number;
}

interface Command {
  owner: string;
  epoch: number;
  command: string;
  outcome: 'accepted' | 'refused';
}

describe('agents refuse commands from an older lease epoch', () => {
  it('fences a replica that stalled past its lease, before and after an agent restart', async () => {
    const { db } = fx;
    const { volume } = await fx.volumeOnArray1('vol-fenced', null, false);
    const created = await fx.create(volume.id, { throttleBytesPerS: 512 * 1024, cutoverPolicy: { mode: 'manual', commit: 'manual' } });
    const id = created.id;
    const claims: Claim[] = [];
    const commands: Command[] = [];

    const host = async (): Promise<AgentTarget> => (await db.select({ id: hosts.id, hostname: hosts.hostname, agentUrl: hosts.agentUrl }).from(hosts).where(eq(hosts.id, fx.hostId)))[0]!;
    const job = async () => agentClient.migration(db, await host(), id);
    const claim = async (owner: string, now?: Date): Promise<MigrationRow> => {
      const row = await claimLease(db, id, owner, now);
      expect(row, `${owner} claims the lease`).toBeDefined();
      claims.push({ owner, epoch: row!.leaseEpoch });
      return row!;
    };
    const refusalsLogged = () => agent.lines.filter((line) => line.msg === 'refused a command from a stale lease epoch' && line.id === id).length;
    /** A command sent straight through the agent client, as A's console would from an old row. */
    const direct = async (owner: string, epoch: number, command: string, send: (target: AgentTarget) => Promise<unknown>) => {
      try {
        await send(await host());
        commands.push({ owner, epoch, command, outcome: 'accepted' });
        return undefined;
      } catch (error) {
        if (!(error instanceof AgentCallError && error.code === 'stale-epoch')) throw error;
        commands.push({ owner, epoch, command, outcome: 'refused' });
        return error;
      }
    };
    /** One engine step of `owner` with its row and a directive that makes it command the agent. */
    const step = async (owner: string, row: MigrationRow, command: string, directive: Directive) => {
      const before = refusalsLogged();
      await runStep(db, row, directive);
      // The agent logs each refusal before it answers, so the count is final when the step returns.
      commands.push({ owner, epoch: row.leaseEpoch, command, outcome: refusalsLogged() > before ? 'refused' : 'accepted' });
    };

    // A drives the migration until its job copies.
    await waitFor('A to drive the migration to copying', async () => {
      await reconcileOnce(db, 'console-a');
      return (await fx.migrationRow(id)).state === 'copying';
    }, 30_000);
    const rowA = await claim('console-a');
    expect(await direct('console-a', rowA.leaseEpoch, 'throttle 512 KiB/s', (target) => agentClient.setMigrationThrottle(db, target, id, 512 * 1024, rowA.leaseEpoch))).toBeUndefined();

    // A stalls (SIGSTOP, GC, partition) past its lease; B takes the migration over with the next epoch.
    const afterExpiry = new Date(Date.now() + LEASE_MS + 5_000);
    const rowB = await claim('console-b', afterExpiry);
    expect(rowB.leaseEpoch).toBe(rowA.leaseEpoch + 1);
    expect(await claimLease(db, id, 'console-a'), 'A cannot claim it back').toBeUndefined();

    // B's engine step commands the agent (a throttle the scheduler chose): accepted, and the agent learns epoch e+1.
    await step('console-b', rowB, 'throttle 768 KiB/s', { throttle: { bytesPerS: 768 * 1024, reason: 'its share of the arrays' } });
    expect((await job()).throttleBytesPerS).toBe(768 * 1024);

    // A wakes with its old row. Its engine step (a window pause) is refused and leaves the migration alone.
    const eventsBefore = await db.select({ id: events.id }).from(events).where(and(eq(events.objectId, id), like(events.kind, 'migration.%')));
    await step('console-a', rowA, 'window pause', { window: { id, action: 'pause', cause: 'window closed (stale)' } });
    const afterStale = await fx.migrationRow(id);
    expect(afterStale).toMatchObject({ state: 'copying', agentUnreachableSince: null, leaseOwner: 'console-b', leaseEpoch: rowB.leaseEpoch });
    expect(await db.select({ id: events.id }).from(events).where(and(eq(events.objectId, id), like(events.kind, 'migration.%'))), 'no transition, no unreachable event').toHaveLength(eventsBefore.length);
    expect((await job()).paused, 'the stale pause did not reach the job').toBe(false);

    // A's cutover sent directly: 409 stale-epoch, naming both epochs; the job does not switch.
    const refused = await direct('console-a', rowA.leaseEpoch, 'cutover', (target) => agentClient.migrationAction(db, target, id, 'cutover', rowA.leaseEpoch));
    expect(refused).toBeInstanceOf(AgentCallError);
    expect(refused).toMatchObject({ code: 'stale-epoch', status: 409 });
    expect(refused!.message).toContain(`lease epoch ${rowA.leaseEpoch} is older than epoch ${rowB.leaseEpoch} this agent has seen for migration ${id}; another console replica drives it now`);
    expect(await job()).toMatchObject({ switched: false, paused: false, throttleBytesPerS: 768 * 1024 });

    // B's commands still work: its window pause and resume go through and move the row.
    await step('console-b', await claim('console-b'), 'window pause', { window: { id, action: 'pause', cause: 'window closed' } });
    expect((await job()).paused).toBe(true);
    expect((await fx.migrationRow(id)).state).toBe('paused');
    await step('console-b', await claim('console-b'), 'window resume', { window: { id, action: 'resume', cause: 'window open' } });
    expect((await job()).paused).toBe(false);
    expect((await fx.migrationRow(id)).state).toBe('copying');
    // An operator action served by any replica carries the row's epoch as it reads it: accepted.
    expect((await migrationAction(db, actor, id, 'pause')).state).toBe('paused');
    commands.push({ owner: 'operator', epoch: (await fx.migrationRow(id)).leaseEpoch, command: 'pause', outcome: 'accepted' });
    expect((await migrationAction(db, actor, id, 'resume')).state).toBe('copying');
    commands.push({ owner: 'operator', epoch: (await fx.migrationRow(id)).leaseEpoch, command: 'resume', outcome: 'accepted' });

    // The agent dies with SIGKILL right away and restarts on its data folder: it still knows epoch
    // e+1 (on disk before the command that raised it acted), and the operator's resume, answered
    // only once recorded, holds: the job is not paused after the restart.
    await agent.stop('SIGKILL');
    agent = spawnAgent({ consoleUrl: fx.consoleUrl, dataDir: fx.agent.dataDir });
    await agent.waitForLog((line) => line.msg === 'resumed migration' && line.id === id, 20_000);
    // Until its first heartbeat the console still has the dead agent's URL.
    await waitFor('the restarted agent to answer at the URL it reported', () => job().then((status) => status.restarts === 1, () => false));

    const stillRefused = await direct('console-a', rowA.leaseEpoch, 'pause after agent restart', (target) => agentClient.migrationAction(db, target, id, 'pause', rowA.leaseEpoch));
    expect(stillRefused).toMatchObject({ code: 'stale-epoch', status: 409 });
    expect((await job()).paused, 'the stale pause did not reach the restarted job').toBe(false);
    await step('console-a', rowA, 'window pause after agent restart', { window: { id, action: 'pause', cause: 'window closed (stale)' } });
    expect((await job()).paused).toBe(false);
    expect((await fx.migrationRow(id))).toMatchObject({ state: 'copying', agentUnreachableSince: null });

    await step('console-b', await claim('console-b'), 'throttle 1 MiB/s after agent restart', { throttle: { bytesPerS: MiB, reason: 'its share of the arrays' } });
    expect((await job()).throttleBytesPerS).toBe(MiB);

    // The history: lease epochs only grow, no command older than the newest accepted one was
    // accepted, every refusal was of such a command, and the faults did hit (some were refused).
    for (let i = 1; i < claims.length; i++) {
      expect(claims[i]!.epoch, `claim ${i} (${claims[i]!.owner})`).toBeGreaterThanOrEqual(claims[i - 1]!.epoch);
      if (claims[i]!.owner !== claims[i - 1]!.owner) expect(claims[i]!.epoch).toBeGreaterThan(claims[i - 1]!.epoch);
    }
    let highest = -1;
    for (const entry of commands) {
      if (entry.outcome === 'accepted') {
        expect(entry.epoch, `${entry.owner} ${entry.command} accepted at epoch ${entry.epoch}, below ${highest}`).toBeGreaterThanOrEqual(highest);
        highest = Math.max(highest, entry.epoch);
      } else {
        expect(entry.epoch, `${entry.owner} ${entry.command} refused at epoch ${entry.epoch}, not below ${highest}`).toBeLessThan(highest);
      }
    }
    const refusals = commands.filter((entry) => entry.outcome === 'refused');
    expect(refusals.map((entry) => entry.command)).toEqual(['window pause', 'cutover', 'pause after agent restart', 'window pause after agent restart']);
    expect(commands.filter((entry) => entry.owner === 'console-b').every((entry) => entry.outcome === 'accepted')).toBe(true);
    expect(refusalsLogged(), 'the restarted agent logged its refusals too').toBe(2);

    // Done: cancel as an operator; the migration ends with the source kept.
    expect((await migrationAction(db, actor, id, 'cancel')).state).toBe('cancelled');
    expect((await db.select({ state: migrations.state }).from(migrations).where(eq(migrations.id, id)))[0]?.state).toBe('cancelled');
  }, 120_000);

  it('a replica that takes a migration over announces its epoch with its first status read, before it has a command to send', async () => {
    const { db } = fx;
    const { volume } = await fx.volumeOnArray1('vol-announced', null, false);
    const created = await fx.create(volume.id, { throttleBytesPerS: 512 * 1024, cutoverPolicy: { mode: 'manual', commit: 'manual' } });
    await waitFor('A to drive the migration to copying', async () => {
      await reconcileOnce(db, 'console-a');
      return (await fx.migrationRow(created.id)).state === 'copying';
    }, 30_000);
    const rowA = (await claimLease(db, created.id, 'console-a'))!;
    // B takes over and runs only its reconciler: nothing to command, just the follow step's read.
    const rowB = (await claimLease(db, created.id, 'console-b', new Date(Date.now() + LEASE_MS + 5_000)))!;
    expect(rowB.leaseEpoch).toBe(rowA.leaseEpoch + 1);
    await reconcileOnce(db, 'console-b');
    const target = (await db.select({ id: hosts.id, hostname: hosts.hostname, agentUrl: hosts.agentUrl }).from(hosts).where(eq(hosts.id, fx.hostId)))[0]!;
    await expect(agentClient.migrationAction(db, target, created.id, 'pause', rowA.leaseEpoch)).rejects.toMatchObject({ code: 'stale-epoch', status: 409 });
    expect((await agentClient.migration(db, target, created.id)).paused).toBe(false);
    // A read carrying an older epoch is answered and lowers nothing.
    expect((await agentClient.migration(db, target, created.id, rowA.leaseEpoch)).paused).toBe(false);
    await expect(agentClient.migrationAction(db, target, created.id, 'pause', rowA.leaseEpoch)).rejects.toMatchObject({ code: 'stale-epoch' });
    expect((await migrationAction(db, actor, created.id, 'cancel')).state).toBe('cancelled');
  }, 90_000);
});
