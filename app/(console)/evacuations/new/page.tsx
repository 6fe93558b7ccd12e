/** The Evacuate array wizard (docs/ui.md §3.10): `/evacuations/new?arrays=ARR-03`, its draft in the URL. */
import type { Metadata } from 'next';
import { Suspense } from 'react';
import { EvacuateWizard } from '@/components/evacuations/wizard';

export const metadata: Metadata = { title: 'Evacuate array' };

export default function Page() {
  return (
    <Suspense>
      <EvacuateWizard />
    </Suspense>
  );
}
