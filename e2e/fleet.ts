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
