import { expect, test } from '@playwright/test';
import { signIn } from './fleet';

test('an anonymous visitor is sent to sign-in, and a wrong password is refused', async ({ page }) => {
  await page.goto('/hosts');
  await expect(page).toHaveURL(/\/sign-in/);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  // (Next.js adds an empty route-announcer alert of its own.)
  await expect(page.getByRole('alert').filter({ hasText: /\S/ })).toHaveText('Username or password is incorrect');
});

test('the overview lists the arrays and the hosts of the demo fleet', async ({ page }) => {
  await signIn(page);
  const main = page.getByRole('main');
  for (const name of ['ARR-01', 'ARR-02', 'ARR-03', 'ARR-04']) {
    await expect(main.getByRole('link', { name, exact: true }).first()).toBeVisible({ timeout: 60_000 });
  }
  // The small demo fleet has two hosts; both enrol and connect.
  await page.getByRole('link', { name: 'Hosts', exact: true }).click();
  for (const hostname of ['db-01', 'app-01']) {
    const row = page.getByRole('row').filter({ has: page.getByRole('link', { name: hostname, exact: true }) });
    await expect(row.getByTestId('state-badge')).toHaveAttribute('data-state', 'connected', { timeout: 60_000 });
  }
});

test("an array's detail shows its LUNs and the volumes that live on them", async ({ page }) => {
  await signIn(page, '/arrays');
  await page.getByRole('link', { name: 'ARR-03', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: /ARR-03/ })).toBeVisible();
  await page.getByRole('tab', { name: /LUNs/ }).click();
  // db-01's data volume and app-01's log volume live on ARR-03 in the small demo.
  await expect(page.getByRole('row').filter({ hasText: 'db-01-vol-data01' })).toContainText('vol-data01', { timeout: 30_000 });
  await expect(page.getByRole('row').filter({ hasText: 'app-01-vol-logs01' })).toContainText('app-01');
});
