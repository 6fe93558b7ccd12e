/**
 * Crash tests (docs/testing.md §2 and 3, in small): a real agent process moves a volume while
 * this test process writes to it through the agent's NBD export; the agent is killed with
 * SIGKILL at random moments and restarted. At the end every acknowledged write must be on the
 * target, the job must have resumed rather than started over, and source and target must agree.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NbdClient } from '../dataplane/nbd/client';
import { verifyLedger, Workload } from '../dataplane/workload';
import type { MigrationStatus } from '../protocol/agent-api';
import { killAllAgents, spawnAgent, type AgentProcess } from '@/test/agent-process';

const MiB = 1024 * 1024;
const CONSOLE_KEY = 'crash-test-console-key-0123456789abcdef';
let root: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'tern-crash-'));
});
afterEach(async () => {
  await killAllAgents();
  await rm(root, { recursive: true, force: true });
});
afterAll(killAllAgents);

async function lun(name: string, sizeBytes: number, fill = 0) {
  const file = path.join(root, `${name}.lun`);
  const handle = await open(file, 'w');
  await handle.truncate(sizeBytes);
  if (fill) await handle.write(Buffer.alloc(fill, 0xab), 0, fill, 0);
  await handle.close();
  return file;
}

/** A data folder for an agent already enrolled (with a console that is not there). */
async function agentFolder() {
  const dataDir = path.join(root, 'agent');
  const source = { lunId: randomUUID(), path: await lun('source', 24 * MiB, 4 * MiB) };
  const target = { lunId: randomUUID(), path: await lun('target', 24 * MiB) };
  const arrayId = randomUUID();
  await mkdir(dataDir, { recursive: true });
  await writeFile(
    path.join(dataDir, 'identity.json'),
    JSON.stringify({
      hostId: randomUUID(),
      hostname: 'crash-host',
      consoleUrl: 'http://127.0.0.1:9',
      credential: 'x'.repeat(43),
      consoleKeySha256: createHash('sha256').update(CONSOLE_KEY).digest('hex'),
      enrolledAt: new Date().toISOString(),
    }),
    { mode: 0o600 },
  );
  await writeFile(
    path.join(dataDir, 'state.json'),
    JSON.stringify({
      luns: [
        { lunId: source.lunId, wwn: 'wwn-source', arrayId, arrayName: 'OLD', path: source.path, sizeBytes: 24 * MiB },
        { lunId: target.lunId, wwn: 'wwn-target', arrayId, arrayName: 'NEW', path: target.path, sizeBytes: 24 * MiB },
      ],
      diskGroups: [{ name: 'dg', volumes: [{ name: 'vol', sizeBytes: 16 * MiB, regionSizeBytes: 64 * 1024, nbdExport: 'dg/vol', plexes: [{ name: 'vol-01', lunId: source.lunId, lunPath: source.path, state: 'active' }] }] }],
    }),
  );
  return { dataDir, source, target };
}

async function startAgent(dataDir: string): Promise<{ agent: AgentProcess; url: string }> {
  const agent = spawnAgent({ consoleUrl: 'http://127.0.0.1:9', dataDir, heartbeatIntervalMs: 60_000 });
  const listening = await agent.waitForLog((line) => line.msg === 'listening', 20_000);
  await agent.waitForLog((line) => line.msg === 'NBD exports ready', 20_000);
  return { agent, url: String(listening.agentUrl) };
}

async function call(url: string, method: string, route: string, body?: unknown): Promise<MigrationStatus> {
  const response = await fetch(new URL(route, url), {
    method,
    headers: { authorization: `Bearer ${CONSOLE_KEY}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = (await response.json()) as MigrationStatus & { error?: string };
  if (!response.ok) throw new Error(`${method} ${route}: ${payload.error}`);
  return payload;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.each(['mirror', 'precopy'] as const)('%s migration through agent crashes', (strategy) => {
  it('loses no acknowledged write and never starts over', async () => {
    {
      const { dataDir, target } = await agentFolder();
      const socket = { path: path.join(dataDir, 'nbd.sock') };
      let { agent, url } = await startAgent(dataDir);
      let client = await NbdClient.connect(socket, 'dg/vol');
      // The application writes to the first 2 MiB, so the rest can be proven clean and must not be copied again.
      const workload = new Workload(client, { depth: 4, writeRateBytesPerS: 2 * MiB, seed: 11, range: { offset: 0, length: 2 * MiB } });
      workload.start();
      await call(url, 'POST', '/v1/migrations', { id: `crash-${strategy}`, volume: 'dg/vol', targetLunId: target.lunId, strategy, throttleBytesPerS: 4 * MiB, cutover: 'manual' });

      for (let crash = 0; crash < 3; crash++) {
        await sleep(1600 + Math.random() * 1000); // past the first checkpoint (1 s), at a random moment
        agent.child.kill('SIGKILL');
        await agent.exited;
        ({ agent, url } = await startAgent(dataDir));
        client = await NbdClient.connect(socket, 'dg/vol');
        workload.retarget(client);
      }
      let status = await call(url, 'GET', `/v1/migrations/crash-${strategy}`);
      expect(status.restarts).toBe(3);
      // Each restart re-copied only what the DRL could not prove clean: never the whole volume
      // once the first checkpoint had passed.
      expect(status.recopiedAfterRestartRegions.at(-1), JSON.stringify({ recopied: status.recopiedAfterRestartRegions, pass: status.pass, phase: status.phase, copied: status.bytesCopied })).toBeLessThan(status.regionsTotal);
      expect(status.bytesCopied).toBeGreaterThan(0);

      for (let i = 0; i < 600 && status.phase !== 'ready'; i++, await sleep(100)) status = await call(url, 'GET', `/v1/migrations/crash-${strategy}`);
      expect(status.phase).toBe('ready');
      await call(url, 'POST', `/v1/migrations/crash-${strategy}/cutover`);
      for (let i = 0; i < 600 && status.phase !== 'verified'; i++, await sleep(100)) status = await call(url, 'GET', `/v1/migrations/crash-${strategy}`);
      expect(status).toMatchObject({ phase: 'verified', switched: true, verify: { ok: true } });

      await workload.stop();
      expect(workload.stats.writes).toBeGreaterThan(50);
      const report = await verifyLedger(client, workload.ledger());
      expect(report.lost).toEqual([]);
      expect(report.checked).toBeGreaterThan(20);

      await call(url, 'POST', `/v1/migrations/crash-${strategy}/commit`);
      await client.close();
      await agent.stop('SIGTERM');
      // The target file alone now holds every acknowledged write.
      const onTarget = await readFile(target.path);
      const direct = { sizeBytes: 16 * MiB, read: async (offset: number, length: number) => onTarget.subarray(offset, offset + length), write: async () => undefined };
      expect((await verifyLedger(direct, workload.ledger())).lost).toEqual([]);
    }
  }, 120_000);
});
