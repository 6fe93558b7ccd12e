import 'server-only';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { eq, inArray } from 'drizzle-orm';
import type { Db } from '@/db/open';
import { arrays, hosts, volumes } from '@/db/schema';
import { config } from '@/server/config';
import type { Actor } from '@/server/events/log';
import { agentClient } from '@/server/fleet/agent-client';
import { createArray, createLun, mapLun } from '@/server/fleet/arrays';
import { createEnrolmentToken } from '@/server/fleet/enrolment';
import { setArrayReach } from '@/server/fleet/reachability';
import { createVolume } from '@/server/fleet/volumes';
import { logger } from '@/server/log';
import { startDemoAgent } from './agent-processes';
import { demoPlan, type DemoPlan } from './plan';

const actor: Actor = { kind: 'system', name: 'demo' };
const MiB = 1024 ** 2;

/**
 * The demo fleet: real directory arrays, real agent processes on loopback, LUNs mapped to them
 * and volumes on those LUNs, all made through the same functions an administrator's actions
 * call. The first start builds it; later starts find the arrays and only restart the agents.
 */
export async function startDemoFleet(db: Db) {
  const root = path.join(config.dataDir, 'demo');
  const existing = await db.select({ id: arrays.id }).from(arrays).limit(1);
  if (existing.length > 0) {
    const hostnames = await restartAgents(root);
    await Promise.all(hostnames.map((hostname) => waitForHost(db, hostname)));
    // A fleet built before arrays had zoning gets it now; an unchanged zoning writes nothing.
    await zoneArrays(db, demoPlan(config.demoSize));
  } else {
    const plan = demoPlan(config.demoSize);
    logger.info('building the demo fleet', { arrays: plan.arrays.length, hosts: plan.hosts.length, folder: root });
    await buildFleet(db, root, plan);
    logger.info('demo fleet ready');
  }
  if (config.demoWorkload) await startWorkloads(db);
}

/**
 * A gentle application on every demo volume, so there is something to watch: 64 KiB/s of 4 KiB
 * random writes within the first 32 MiB of each volume, which bounds what the demo writes to disk
 * however long it runs.
 */
async function startWorkloads(db: Db) {
  const rows = await db
    .select({ volume: volumes.nbdExport, hostId: hosts.id, hostname: hosts.hostname, agentUrl: hosts.agentUrl })
    .from(volumes)
    .innerJoin(hosts, eq(hosts.id, volumes.hostId));
  for (const row of rows) {
    await agentClient
      .startWorkload(db, { id: row.hostId, hostname: row.hostname, agentUrl: row.agentUrl }, row.volume, { writeRateBytesPerS: 64 * 1024, depth: 1, rangeBytes: 32 * MiB })
      .catch((error: unknown) => logger.warn('demo workload did not start', { volume: row.volume, host: row.hostname, error: (error as Error).message }));
  }
  logger.info('demo workloads running', { volumes: rows.length });
}

async function restartAgents(root: string): Promise<string[]> {
  const agentsDir = path.join(root, 'agents');
  const hostnames = await readdir(agentsDir).catch(() => [] as string[]);
  for (const hostname of hostnames) {
    await startDemoAgent({ hostname, dataDir: path.join(agentsDir, hostname), consoleUrl: config.publicUrl });
  }
  logger.info('demo agents restarted', { count: hostnames.length });
  return hostnames;
}

async function buildFleet(db: Db, root: string, plan: DemoPlan) {
  const arrayIds = new Map<string, string>();
  for (const array of plan.arrays) {
    const row = await createArray(db, actor, {
      name: array.name,
      vendor: array.vendor,
      model: array.model,
      tier: array.tier,
      capacityBytes: array.capacityGiB * 1024 * MiB,
      driver: { kind: 'directory', path: path.join(root, 'arrays', array.name) },
    });
    arrayIds.set(array.name, row.id);
  }

  // Enrol every agent first (in parallel: each is a process starting up), then provision.
  const hostIds = new Map<string, string>();
  await Promise.all(
    plan.hosts.map(async (host) => {
      const { token } = await createEnrolmentToken(db, { label: `demo ${host.hostname}`, createdBy: 'demo', actor, ttlMs: 10 * 60_000 });
      await startDemoAgent({ hostname: host.hostname, dataDir: path.join(root, 'agents', host.hostname), consoleUrl: config.publicUrl, enrolmentToken: token });
      hostIds.set(host.hostname, await waitForHost(db, host.hostname));
    }),
  );

  await zoneArrays(db, plan);
  for (const host of plan.hosts) {
    const hostId = hostIds.get(host.hostname);
    if (!hostId) throw new Error(`demo host ${host.hostname} did not enrol`);
    for (const volume of host.volumes) {
      const arrayId = arrayIds.get(volume.array);
      if (!arrayId) throw new Error(`demo volume ${volume.name} names unknown array ${volume.array}`);
      const lun = await createLun(db, actor, { arrayId, name: `${host.hostname}-${volume.name}`, sizeBytes: volume.sizeMiB * MiB });
      await mapLun(db, actor, { lunId: lun.id, hostId });
      await createVolume(db, actor, { hostId, lunId: lun.id, diskGroup: volume.diskGroup, name: volume.name, sizeBytes: volume.sizeMiB * MiB });
    }
  }
}

/** Zones the arrays that only some hosts reach, so the Migrate dialog shows an unreachable target. */
async function zoneArrays(db: Db, plan: DemoPlan) {
  for (const array of plan.arrays) {
    if (!array.reachableFrom) continue;
    const [arrayRow] = await db.select({ id: arrays.id }).from(arrays).where(eq(arrays.name, array.name));
    const zoned = await db.select({ id: hosts.id }).from(hosts).where(inArray(hosts.hostname, array.reachableFrom));
    if (arrayRow) await setArrayReach(db, actor, arrayRow.id, { allHosts: false, hostIds: zoned.map((host) => host.id) });
  }
}

async function waitForHost(db: Db, hostname: string, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const [host] = await db.select({ id: hosts.id, state: hosts.state, agentUrl: hosts.agentUrl }).from(hosts).where(eq(hosts.hostname, hostname));
    if (host?.state === 'connected' && host.agentUrl) return host.id;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`demo agent ${hostname} did not enrol within ${timeoutMs / 1000} s; see ${path.join(config.dataDir, 'demo', 'agents', hostname, 'agent.log')}`);
}
