import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, type Page } from '@playwright/test';
import { E2E_ADMIN_PASSWORD, E2E_DATA_DIR, E2E_PORT } from '../playwright.config';

export async function signIn(page: Page, next = '/') {
  await page.goto(`/sign-in?next=${encodeURIComponent(next)}`);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(E2E_ADMIN_PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page).not.toHaveURL(/sign-in/);
}

export const agentDir = (hostname: string) => path.join(E2E_DATA_DIR, 'demo', 'agents', hostname);

export function agentPid(hostname: string): number {
  return Number(readFileSync(path.join(agentDir(hostname), 'agent.pid'), 'utf8').trim());
}

/** Starts a demo host's agent again, as an administrator would, from its data folder. */
export function startAgent(hostname: string): ChildProcess {
  return spawn(
    process.execPath,
    ['--import', 'tsx', 'server/agent/main.ts', '--console', `http://127.0.0.1:${E2E_PORT}`, '--data-dir', agentDir(hostname), '--hostname', hostname],
    { stdio: 'ignore' },
  );
}

/** Calls a tRPC procedure as the signed-in page does (same cookie, same origin, JSON). */
export async function trpc<T>(page: Page, path: string, input?: unknown, kind: 'query' | 'mutation' = 'query'): Promise<T> {
  const response = await page.evaluate(
    async ([path, input, kind]) => {
      const body = JSON.stringify({ json: input });
      const r =
        kind === 'query'
          ? await fetch(`/api/trpc/${path}${input === undefined ? '' : `?input=${encodeURIComponent(body)}`}`)
          : await fetch(`/api/trpc/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      return (await r.json()) as { result?: { data: { json: unknown } }; error?: { json: { message: string } } };
    },
    [path, input, kind] as const,
  );
  if (response.error) throw new Error(`${path}: ${response.error.json.message}`);
  return response.result!.data.json as T;
}

/** Stops every demo workload on the host and has its agent verify each acknowledged write, through the console. */
export async function stopAndVerifyWorkloads(page: Page, hostname: string) {
  // hosts.list is paged and searches by fragment: ask for the hostname, then pick the exact match.
  const { hosts } = await trpc<{ hosts: { id: string; hostname: string }[] }>(page, 'hosts.list', { q: hostname, pageSize: 100 });
  const host = hosts.find((h) => h.hostname === hostname);
  if (!host) throw new Error(`no host ${hostname}`);
  const workloads = await trpc<{ volume: string }[]>(page, 'hosts.workloads', { hostId: host.id });
  const results = [];
  for (const { volume } of workloads) {
    const status = await trpc<{ volume: string; verify: { checked: number; lost: number } | null }>(page, 'hosts.stopAndVerifyWorkload', { hostId: host.id, volume }, 'mutation');
    results.push({ hostname, volume, checked: status.verify?.checked ?? 0, lost: status.verify?.lost ?? -1 });
  }
  return results;
}
