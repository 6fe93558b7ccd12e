import type { Metadata } from 'next';
import { Suspense } from 'react';
import { ArraysPage } from '@/components/arrays/arrays-page';

export const metadata: Metadata = { title: 'Arrays' };

export default function Page() {
  return (
    <Suspense>
      <ArraysPage />
    </Suspense>
  );
}
