/**
 * The fleet a `bench -- fleet` run builds, decided once by the orchestrator and written to a JSON
 * file that the console process (which seeds the database from it) and the agent processes
 * (which report it as their inventory) both read: arrays with their folders, every host's mapped
 * LUNs, and its one volume, whose LUN is a real file (filled with data when it will move).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';

export interface FleetPlanArray {
  id: string;
  name: string;
  folder: string;
}

export interface FleetPlanLun {
  id: string;
  arrayIndex: number;
  name: string;
  wwn: string;
  path: string;
  sizeBytes: number;
}

export interface FleetPlanHost {
  hostname: string;
  /** Every LUN mapped to this host; the first holds its volume `dg/vol`. */
  luns: FleetPlanLun[];
  /** True when the run moves this host's volume. */
  migrates: boolean;
}

export interface FleetPlan {
  arrays: FleetPlanArray[];
  hosts: FleetPlanHost[];
  volumeBytes: number;
  /** Bytes per second each migration may copy, so that it runs through the whole window. */
  throttleBytesPerS: number;
}

export interface FleetShape {
  hosts: number;
  luns: number;
  arrays: number;
  migrations: number;
  volumeBytes: number;
  throttleBytesPerS: number;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export function planFleet(shape: FleetShape, root: string): FleetPlan {
  const arrays = Array.from({ length: shape.arrays }, (_, a): FleetPlanArray => ({ id: randomUUID(), name: `BENCH-${pad(a, 3)}`, folder: path.join(root, 'arrays', `a${a}`) }));
  const perHost = Math.max(1, Math.floor(shape.luns / shape.hosts));
  // Spread the moving volumes over the hosts (every other host at 500 of 1,000).
  const stride = shape.hosts / Math.max(1, shape.migrations);
  const moving = new Set(Array.from({ length: shape.migrations }, (_, m) => Math.floor(m * stride)));
  const hosts = Array.from({ length: shape.hosts }, (_, h): FleetPlanHost => {
    const luns = Array.from({ length: perHost }, (_, k): FleetPlanLun => {
      const arrayIndex = (h * perHost + k) % shape.arrays;
      const name = `h${pad(h, 5)}-l${pad(k, 4)}`;
      return {
        id: randomUUID(),
        arrayIndex,
        name,
        wwn: `6${'0e7e5b'}${randomBytes(13).toString('hex').slice(0, 25)}`,
        path: path.join(arrays[arrayIndex]!.folder, `${name}.lun`),
        sizeBytes: shape.volumeBytes,
      };
    });
    return { hostname: `bench-${pad(h, 5)}`, luns, migrates: moving.has(h) };
  });
  return { arrays, hosts, volumeBytes: shape.volumeBytes, throttleBytesPerS: shape.throttleBytesPerS };
}

/** Creates every array folder and each host's volume LUN file: sparse, or real random bytes when it moves. */
export async function createVolumeFiles(plan: FleetPlan): Promise<void> {
  for (const array of plan.arrays) await mkdir(array.folder, { recursive: true });
  const block = randomBytes(64 * 1024);
  for (const host of plan.hosts) {
    const lun = host.luns[0]!;
    const file = await open(lun.path, 'w');
    try {
      await file.truncate(plan.volumeBytes);
      if (host.migrates) for (let offset = 0; offset < plan.volumeBytes; offset += block.length) await file.write(block, 0, Math.min(block.length, plan.volumeBytes - offset), offset);
    } finally {
      await file.close();
    }
  }
}
