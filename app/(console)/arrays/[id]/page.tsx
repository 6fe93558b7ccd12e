import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { Suspense } from 'react';
import { ArrayDetailPage } from '@/components/arrays/array-detail';
import { isUuid } from '@/components/ids';

export const metadata: Metadata = { title: 'Array' };

export default async function Page({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!isUuid(id)) notFound();
  return (
    <Suspense>
      <ArrayDetailPage id={id} />
    </Suspense>
  );
}
