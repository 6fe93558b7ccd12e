/** Settings (docs/ui.md §3.13): the Limits and API tokens tabs. */
import type { Metadata } from 'next';
import { Suspense } from 'react';
import { SettingsPage } from '@/components/settings/settings-page';

export const metadata: Metadata = { title: 'Settings' };

export default function Page() {
  return (
    <Suspense>
      <SettingsPage />
    </Suspense>
  );
}
