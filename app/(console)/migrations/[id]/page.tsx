/** The migration detail route (docs/ui.md §3.9): a UUID, or the console's not-found page. */
import type { Metadata } from 'next';
import { notFound } from 'next/navigation';
import { MigrationDetailPage } from '@/components/migrations/migration-detail';
import { isUuid } from '@/components/ids';

export const metadata: Metadata = { title: 'Migration' };

export default async function Page({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  if (!isUuid(id)) notFound();
  return <MigrationDetailPage id={id} />;
}
