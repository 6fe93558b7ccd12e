import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { Suspense } from 'react';
import { HostDetailPage } from '@/components/hosts/host-detail';
import { isUuid } from '@/components/ids';

export const metadata: Metadata = { title: 'Host' };

export default async function Page({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!isUuid(id)) notFound();
  return (
    <Suspense>
      <HostDetailPage id={id} />
    </Suspense>
  );
}
