/** The printable evacuation report (docs/ui.md §3.11.4). */
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { EvacuationReportPage } from '@/components/evacuations/evacuation-report';
import { isUuid } from '@/components/ids';

export const metadata: Metadata = { title: 'Evacuation report' };

export default async function Page({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!isUuid(id)) notFound();
  return <EvacuationReportPage id={id} />;
}
