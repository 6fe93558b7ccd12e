'use client';
import { useQuery } from '@tanstack/react-query';
import { ChevronRight } from 'lucide-react';
import Link from 'next/link';
import { usePathname, useSearchParams } from 'next/navigation';
import { Fragment } from 'react';
import { isUuid } from '@/components/ids';
import { useTRPC } from '@/components/trpc';

const sections: Record<string, string> = { arrays: 'Arrays', hosts: 'Hosts', migrations: 'Migrations', evacuations: 'Evacuations', events: 'Events', settings: 'Settings' };
/** Pages under a section that are not objects. */
const subpages: Record<string, Record<string, string>> = { evacuations: { new: 'Evacuate array' } };
const tabLabels: Record<string, string> = { luns: 'LUNs', events: 'Events', mapped: 'LUNs mapped' };

/**
 * `Arrays / ARR-03 / LUNs` (docs/ui.md §2.3). Object names come from the same cached queries the
 * page uses, so the breadcrumb costs no extra request.
 */
export function Breadcrumbs() {
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const trpc = useTRPC();
  const [section, id, ...rest] = pathname.split('/').filter(Boolean);
  const validId = id && isUuid(id) ? id : null;
  const array = useQuery(trpc.arrays.get.queryOptions({ id: validId ?? '' }, { enabled: section === 'arrays' && !!validId }));
  const host = useQuery(trpc.hosts.get.queryOptions({ id: validId ?? '' }, { enabled: section === 'hosts' && !!validId }));
  const migration = useQuery(trpc.migrations.get.queryOptions({ id: validId ?? '' }, { enabled: section === 'migrations' && !!validId }));
  const evacuation = useQuery(trpc.evacuations.get.queryOptions({ id: validId ?? '' }, { enabled: section === 'evacuations' && !!validId }));

  const crumbs: { label: string; href?: string }[] = [];
  if (!section) crumbs.push({ label: 'Overview' });
  else if (sections[section]) {
    crumbs.push({ label: sections[section], href: id ? `/${section}` : undefined });
    if (id) {
      const names: Record<string, string | undefined> = {
        arrays: array.data?.name,
        hosts: host.data?.hostname,
        migrations: migration.data ? `${migration.data.hostname} / ${migration.data.volumeName}` : undefined,
        evacuations: evacuation.data ? evacuation.data.sources.map((source) => source.name).join(', ') : undefined,
      };
      const name = subpages[section]?.[id] ?? names[section];
      const tab = searchParams.get('tab');
      const tabLabel = tab ? tabLabels[tab] : undefined;
      crumbs.push({ label: name ?? (validId ? '…' : 'Not found'), href: tabLabel ? pathname : undefined });
      if (id && validId && rest.length) crumbs.at(-1)!.href = `/${section}/${id}`;
      for (const part of rest) crumbs.push({ label: part === 'report' ? 'Report' : part });
      if (tabLabel) crumbs.push({ label: tabLabel });
    }
  } else crumbs.push({ label: 'Not found' });

  return (
    <nav aria-label="Breadcrumb" className="min-w-0">
      <ol className="flex min-w-0 items-center gap-1.5 text-sm">
        {crumbs.map((crumb, index) => (
          <Fragment key={index}>
            {index > 0 ? <ChevronRight aria-hidden className="size-3.5 shrink-0 text-muted-foreground" /> : null}
            <li className="min-w-0 truncate">
              {crumb.href ? (
                <Link href={crumb.href} className="text-muted-foreground hover:text-foreground">
                  {crumb.label}
                </Link>
              ) : (
                <span aria-current={index === crumbs.length - 1 ? 'page' : undefined} className="font-medium">
                  {crumb.label}
                </span>
              )}
            </li>
          </Fragment>
        ))}
      </ol>
    </nav>
  );
}
