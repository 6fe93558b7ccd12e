import { randomUUID } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyLedger, Workload } from '../dataplane/workload';
import { createLogger } from './log';
import { DataDir } from './store';
import { AgentRefusal, VolumeManager } from './volume-manager';
import { VolumeRuntime } from './volume-runtime';
import { Workloads } from './workloads';

const MiB = 1024 * 1024;
let root: string;
const quiet = createLogger(() => undefined);

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'tern-runtime-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function lunFile(name: string, sizeBytes: number) {
  const file = path.join(root, `${name}.lun`);
  const handle = await open(file, 'w');
  await handle.truncate(sizeBytes);
  await handle.close();
  return file;
}

/** An agent's data folder with a volume on one LUN and a second, empty LUN mapped. */
async function host() {
  const dataDir = new DataDir(path.join(root, 'agent'));
  await dataDir.ensure();
  const config = await VolumeManager.open(dataDir);
  const arrayId = randomUUID();
  const source = { lunId: randomUUID(), path: await lunFile('source', 16 * MiB) };
  const target = { lunId: randomUUID(), path: await lunFile('target', 16 * MiB) };
  for (const [lun, wwn] of [[source, 'wwn-source'], [target, 'wwn-target']] as const) {
    await config.mapLun(lun.lunId, { wwn, arrayId, arrayName: 'ARR', path: lun.path, sizeBytes: 16 * MiB });
  }
  await config.createVolume({ diskGroup: 'dg', name: 'vol', sizeBytes: 8 * MiB, lunId: source.lunId });
  const runtime = new VolumeRuntime(config, dataDir.dir, quiet);
  await runtime.open();
  return { dataDir, config, runtime, source, target };
}

describe('volume runtime', () => {
  it.each(['mirror', 'precopy'] as const)('runs a %s migration with a workload and keeps the configuration in step', async (strategy) => {
    const { dataDir, config, runtime, source, target } = await host();
    const volume = await runtime.device('dg/vol');
    const workload = new Workload(volume!, { depth: 2, writeRateBytesPerS: 4 * MiB, seed: 3 });
    workload.start();
    const started = await runtime.startMigration({ id: `m-${strategy}`, volume: 'dg/vol', targetLunId: target.lunId, strategy, throttleBytesPerS: 32 * MiB });
    expect(started.phase).toBe('copying');
    expect(config.findVolume('dg/vol')?.plexes.map((plex) => plex.state)).toEqual(['active', 'syncing']);
    await expect(runtime.startMigration({ id: 'again', volume: 'dg/vol', targetLunId: target.lunId, strategy })).rejects.toThrow(AgentRefusal);

    for (let i = 0; i < 400 && runtime.get(`m-${strategy}`).phase !== 'verified'; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const verified = runtime.get(`m-${strategy}`);
    expect(verified).toMatchObject({ phase: 'verified', switched: true, verify: { ok: true } });
    await workload.stop();
    expect((await verifyLedger(volume!, workload.ledger())).lost).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 50)); // the configuration write follows the phase event
    expect(config.findVolume('dg/vol')?.plexes.map((plex) => [plex.lunId, plex.state])).toEqual([
      [target.lunId, 'active'],
      [source.lunId, 'detached'],
    ]);

    await expect(runtime.act(`m-${strategy}`, 'cancel')).rejects.toThrow(/cannot cancel after cutover/);
    await runtime.act(`m-${strategy}`, 'commit');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(config.findVolume('dg/vol')?.plexes.map((plex) => [plex.lunId, plex.state])).toEqual([[target.lunId, 'active']]);
    // A restarted agent opens the volume on the target.
    await runtime.close();
    const reopened = new VolumeRuntime(await VolumeManager.open(dataDir), dataDir.dir, quiet);
    await reopened.open();
    expect((await reopened.device('dg/vol'))?.primary.lunPath).toBe(target.path);
    // The console may ask how the job ended after the agent restarted.
    expect(reopened.get(`m-${strategy}`)).toMatchObject({ phase: 'committed', switched: true, regionsTotal: 128, verify: { ok: true } });
    expect((await verifyLedger((await reopened.device('dg/vol'))!, workload.ledger())).lost).toEqual([]);
    await reopened.close();
  });

  it('refuses a target LUN that is not mapped or already holds a plex, changing nothing', async () => {
    const { config, runtime, source } = await host();
    const before = JSON.stringify(config.volumes());
    await expect(runtime.startMigration({ id: 'x1', volume: 'dg/vol', targetLunId: randomUUID(), strategy: 'mirror' })).rejects.toThrow(/is not mapped to this host/);
    await expect(runtime.startMigration({ id: 'x2', volume: 'dg/vol', targetLunId: source.lunId, strategy: 'mirror' })).rejects.toThrow(/already holds plex vol-01/);
    await expect(runtime.startMigration({ id: 'x3', volume: 'dg/nope', targetLunId: source.lunId, strategy: 'mirror' })).rejects.toThrow(/no volume dg\/nope/);
    expect(JSON.stringify(config.volumes())).toBe(before);
    expect(runtime.list()).toEqual([]);
    await runtime.close();
  });

  it('runs a verifiable workload on a volume through a migration, and verifies it', async () => {
    const { runtime, target } = await host();
    const workloads = new Workloads(runtime);
    await expect(workloads.start('dg/none', {})).rejects.toThrow(/no volume dg\/none/);
    const started = await workloads.start('dg/vol', { writeRateBytesPerS: 2 * MiB, depth: 2 });
    expect(started.running).toBe(true);
    await runtime.startMigration({ id: 'with-workload', volume: 'dg/vol', targetLunId: target.lunId, strategy: 'precopy' });
    for (let i = 0; i < 400 && runtime.get('with-workload').phase !== 'verified'; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    const stopped = await workloads.stop('dg/vol');
    expect(stopped.writes).toBeGreaterThan(10);
    const verified = await workloads.verify('dg/vol');
    expect(verified.verify).toMatchObject({ lost: 0 });
    expect(verified.verify?.checked).toBeGreaterThan(10);
    await workloads.close();
    await runtime.close();
  });
});
