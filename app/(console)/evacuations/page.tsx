/** The evacuations list (docs/ui.md §3.11.1). */
import type { Metadata } from 'next';
import { Suspense } from 'react';
import { EvacuationsPage } from '@/components/evacuations/evacuations-page';

export const metadata: Metadata = { title: 'Evacuations' };

export default function Page() {
  return (
    <Suspense>
      <EvacuationsPage />
    </Suspense>
  );
}
