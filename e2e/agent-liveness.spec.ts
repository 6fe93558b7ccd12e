import { expect, test } from '@playwright/test';
import { agentPid, signIn, startAgent } from './fleet';

// Runs last (see playwright.config.ts): the host's agent it restarts is stopped at the end.
test('a killed agent turns its host disconnected in the open page, and back when restarted', async ({ page }) => {
  test.setTimeout(120_000);
  await signIn(page, '/hosts');
  const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'db-01', exact: true }) });
  const badge = row.getByTestId('state-badge');
  await expect(badge).toHaveAttribute('data-state', 'connected', { timeout: 60_000 });

  process.kill(agentPid('db-01'), 'SIGKILL');
  // Disconnected within 15 s of the last heartbeat, seen without a reload.
  await expect(badge).toHaveAttribute('data-state', 'disconnected', { timeout: 30_000 });

  const agent = startAgent('db-01');
  try {
    await expect(badge).toHaveAttribute('data-state', 'connected', { timeout: 30_000 });
  } finally {
    agent.kill('SIGTERM');
  }
});
