import { expect, test, type Locator, type Page } from '@playwright/test';
import { signIn } from './fleet';

/** Reads the convergence chart's newest sample as the page drew it. */
async function chartState(chart: Locator) {
  return { samples: Number(await chart.getAttribute('data-samples')), lastAt: await chart.getAttribute('data-last-at'), lastLeft: await chart.getAttribute('data-last-left') };
}

async function openHost(page: Page, hostname: string) {
  await page.goto('/hosts');
  await page.getByRole('link', { name: hostname, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: new RegExp(hostname) })).toBeVisible();
}

test('an operator migrates a demo volume from the browser, watches it converge, cuts over and commits', async ({ page }) => {
  test.setTimeout(240_000);
  await signIn(page, '/hosts');
  const host = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'app-01', exact: true }) });
  await expect(host.getByTestId('state-badge')).toHaveAttribute('data-state', 'connected', { timeout: 60_000 });
  await openHost(page, 'app-01');

  // vol-app01 (128 MiB) lives on ARR-02 and runs the demo's write workload; ARR-03 is left to the evacuation spec.
  const volumeRow = page.getByRole('row').filter({ hasText: 'vol-app01' }).first();
  await volumeRow.getByRole('button', { name: /Migrate/ }).click();
  const sheet = page.getByTestId('migrate-sheet');
  await expect(sheet).toBeVisible();
  await expect(sheet.getByTestId('target-ARR-02')).toContainText('the volume is already on this array');
  await sheet.getByTestId('target-ARR-01').getByRole('radio').check();
  await sheet.getByRole('radio', { name: /^Pre-copy/ }).check();
  await sheet.getByLabel('Throttle (MiB/s)').fill('8');
  await sheet.getByRole('radio', { name: 'Manual — wait for me in Ready', exact: true }).check();
  await sheet.getByRole('radio', { name: 'Manual — wait for me', exact: true }).check();
  await sheet.getByRole('button', { name: 'Start migration' }).click();

  await expect(page).toHaveURL(/\/migrations\/[0-9a-f-]{36}$/, { timeout: 30_000 });
  const state = page.getByTestId('migration-state');
  const chart = page.getByTestId('convergence-chart');

  // The chart draws new samples while the copy runs: its newest point moves on as we watch.
  await expect(state).toHaveAttribute('data-state', /copying|ready/, { timeout: 60_000 });
  await expect.poll(async () => (await chartState(chart)).samples, { timeout: 30_000 }).toBeGreaterThan(1);
  const first = await chartState(chart);
  await expect.poll(async () => (await chartState(chart)).lastAt, { timeout: 30_000 }).not.toBe(first.lastAt);
  expect((await chartState(chart)).samples).toBeGreaterThan(first.samples);

  // Manual cutover: it waits in Ready until someone presses "Cut over now".
  await expect(state).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Cut over now' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cut over', exact: true }).click();
  await expect(state).toHaveAttribute('data-state', 'verified', { timeout: 60_000 });

  // Commit is typed: the volume's name.
  await page.getByRole('button', { name: 'Commit…' }).click();
  const dialog = page.getByRole('dialog');
  await dialog.getByLabel('Type the volume name to confirm').fill('vol-app01');
  await dialog.getByRole('button', { name: 'Commit migration' }).click();
  await expect(state).toHaveAttribute('data-state', 'completed', { timeout: 60_000 });

  // The host page shows the volume's plex on the target array now.
  await openHost(page, 'app-01');
  await expect(page.getByRole('row').filter({ hasText: /mig-/ }).first()).toContainText('ARR-01', { timeout: 30_000 });
});
