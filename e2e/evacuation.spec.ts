/**
 * Evacuating an array from the browser, end to end on the small demo fleet: ARR-03 holds
 * db-01/oradg/vol-data01 (128 MiB) and app-01/appdg/vol-logs01 (64 MiB), both with the demo's
 * write workload running. The wizard's six steps, the live burndown while it runs, the end state,
 * the array's Evacuated badge, the decommission checks, and then every demo workload stopped and
 * its acknowledged writes verified by its agent.
 */
import path from 'node:path';
import { expect, test, type Locator, type Page } from '@playwright/test';
import { signIn, stopAndVerifyWorkloads } from './fleet';

async function burndown(chart: Locator) {
  return { points: Number(await chart.getAttribute('data-points')), lastLeft: Number(await chart.getAttribute('data-last-left') || NaN) };
}

/** With TERN_SCREENSHOTS=1 the run also writes the docs' screenshots (1280×800, the viewport). */
const SHOTS = process.env.TERN_SCREENSHOTS === '1';
async function shot(page: Page, name: string) {
  if (!SHOTS) return;
  await page.waitForTimeout(700); // let the debounced dry run and the chart settle for the picture
  await page.screenshot({ path: path.join('docs', 'screenshots', `${name}.png`) });
}

async function next(page: Page, step: string) {
  await page.getByRole('button', { name: /^Next/ }).click();
  await expect(page.getByRole('heading', { level: 2, name: step, exact: true })).toBeVisible();
}

test('an operator evacuates ARR-03 with the wizard, watches the burndown, and ends with an evacuated array whose data verifies', async ({ page }) => {
  test.setTimeout(420_000);
  await signIn(page, '/hosts');
  for (const hostname of ['db-01', 'app-01']) {
    const host = page.getByRole('row').filter({ has: page.getByRole('link', { name: hostname, exact: true }) });
    await expect(host.getByTestId('state-badge')).toHaveAttribute('data-state', 'connected', { timeout: 60_000 });
  }

  await page.goto('/arrays');
  await page.getByRole('link', { name: 'ARR-03', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: /ARR-03/ })).toBeVisible();
  await page.getByRole('link', { name: 'Evacuate array…' }).click();
  await expect(page).toHaveURL(/\/evacuations\/new\?arrays=ARR-03/);

  // 1. Source: ARR-03 is chosen already.
  await expect(page.getByRole('heading', { level: 2, name: 'Source', exact: true })).toBeVisible();
  await expect(page.getByRole('checkbox', { name: 'Evacuate ARR-03' })).toBeChecked();
  await expect(page.getByTestId('plan-rail')).toContainText('2 volumes', { timeout: 30_000 });
  await shot(page, 'evacuate-step-1-source');
  await next(page, 'Impact');

  // 2. Impact: both volumes, grouped by host.
  await expect(page.getByTestId('impact-volume')).toHaveCount(2, { timeout: 30_000 });
  await expect(page.locator('[data-volume="db-01/oradg/vol-data01"]')).toBeVisible();
  await expect(page.locator('[data-volume="app-01/appdg/vol-logs01"]')).toBeVisible();
  await shot(page, 'evacuate-step-2-impact');
  await next(page, 'Targets and placement');

  // 3. Targets: only ARR-02, which both hosts reach.
  const arr02 = page.getByRole('checkbox', { name: 'Use ARR-02 as a target' });
  await expect(arr02).toBeEnabled();
  for (const other of ['ARR-01', 'ARR-04']) {
    const box = page.getByRole('checkbox', { name: `Use ${other} as a target` });
    if ((await box.isEnabled()) && (await box.isChecked())) await box.uncheck();
  }
  if (!(await arr02.isChecked())) await arr02.check();
  await expect.poll(async () => page.getByTestId('placement-row').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-target'))), { timeout: 30_000 }).toEqual(['ARR-02', 'ARR-02']);
  await shot(page, 'evacuate-step-3-targets');
  await next(page, 'Limits, strategy and window');

  // 4. Limits: automatic cutover and commit (the defaults); ARR-03 read at 4 MiB/s, so the
  // evacuation lasts long enough to watch and the budget set here is the one that applies.
  await page.getByLabel('ARR-03 (read) (MiB/s)').fill('4');
  await expect(page.getByTestId('limits-prediction')).toContainText(/Predicted: \S/, { timeout: 30_000 });
  await expect(page.getByRole('radio', { name: 'Automatic when ready' })).toBeChecked();
  await expect(page.getByRole('radio', { name: 'Automatically after verification' })).toBeChecked();
  await shot(page, 'evacuate-step-4-limits');
  await next(page, 'Review');

  // 5. Review: nothing blocks; tick whatever asks for acknowledgement.
  await expect(page.getByTestId('plan-row')).toHaveCount(2, { timeout: 30_000 });
  await expect(page.getByTestId('burndown-chart')).toBeVisible();
  for (const box of await page.locator('#acknowledgements input[type=checkbox]').all()) await box.check();
  await shot(page, 'evacuate-step-5-review');
  await next(page, 'Confirm');

  // 6. Confirm: typed array name, then Start.
  await page.getByLabel('Type the array name to confirm').fill('ARR-03');
  await shot(page, 'evacuate-step-6-confirm');
  await page.getByRole('button', { name: 'Start evacuation' }).click();
  await expect(page).toHaveURL(/\/evacuations\/[0-9a-f-]{36}$/, { timeout: 30_000 });

  const state = page.getByTestId('evacuation-state');
  const chart = page.getByTestId('burndown-chart');
  await expect(state).toHaveAttribute('data-state', /running|completed/, { timeout: 30_000 });

  // The burndown grows while we watch, and what is left on ARR-03 falls.
  await expect.poll(async () => (await burndown(chart)).points, { timeout: 60_000 }).toBeGreaterThan(0);
  const first = await burndown(chart);
  await expect.poll(async () => (await burndown(chart)).points, { timeout: 120_000 }).toBeGreaterThan(first.points);
  await shot(page, 'evacuation-running');
  await expect.poll(async () => (await burndown(chart)).lastLeft, { timeout: 240_000 }).toBeLessThan(first.lastLeft);

  await expect(state).toHaveAttribute('data-state', 'completed', { timeout: 300_000 });
  await expect(page.getByTestId('safe-to-decommission')).toHaveAttribute('data-safe', 'true', { timeout: 60_000 });
  await expect(page.getByTestId('safe-to-decommission')).toContainText('ARR-03 is safe to decommission');

  await page.goto('/arrays');
  const arr03 = page.getByRole('row').filter({ has: page.getByRole('link', { name: 'ARR-03', exact: true }) });
  await expect(arr03.getByTestId('state-badge')).toHaveAttribute('data-state', 'evacuated', { timeout: 30_000 });

  // Every demo volume's workload is stopped and its agent verifies each acknowledged write.
  const results = [...(await stopAndVerifyWorkloads(page, 'db-01')), ...(await stopAndVerifyWorkloads(page, 'app-01'))];
  expect(results.map((r) => `${r.hostname}:${r.volume}`).sort()).toEqual(['app-01:appdg/vol-app01', 'app-01:appdg/vol-logs01', 'db-01:oradg/vol-data01', 'db-01:oradg/vol-redo01']);
  for (const result of results) {
    expect(result.checked, `writes checked on ${result.hostname}:${result.volume}`).toBeGreaterThan(0);
    expect(result.lost, `writes lost on ${result.hostname}:${result.volume}`).toBe(0);
  }
});
