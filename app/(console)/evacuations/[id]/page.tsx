/** The evacuation detail route (docs/ui.md §3.11.2): a UUID, or the console's not-found page. */
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { EvacuationDetailPage } from '@/components/evacuations/evacuation-detail';
import { isUuid } from '@/components/ids';

export const metadata: Metadata = { title: 'Evacuation' };

export default async function Page({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!isUuid(id)) notFound();
  return <EvacuationDetailPage id={id} />;
}
