'use client';
import { useQuery } from '@tanstack/react-query';
import { LogOut } from 'lucide-react';
import Link from 'next/link';
import { useSearchParams } from 'next/navigation';
import type { ArrayDetail } from '@/components/api-types';
import { CapacityBar } from '@/components/capacity-bar';
import { isNotFound, QueryError } from '@/components/data/query-states';
import { ObjectTimeline } from '@/components/events/object-timeline';
import { formatBytes, formatBytesExact, formatCount, formatInteger, formatPercent, formatTier } from '@/components/format';
import { TabLabel } from '@/components/hosts/host-detail';
import { NotFoundPanel } from '@/components/not-found-panel';
import { PageHeader } from '@/components/page-header';
import { StateBadge } from '@/components/state-badge';
import { Alert } from '@/components/ui/alert';
import { Button, buttonVariants } from '@/components/ui/button';
import { Card, CardContent, CardHeader, CardTitle } from '@/components/ui/card';
import { Skeleton } from '@/components/ui/skeleton';
import { TabPanel, UrlTabList } from '@/components/ui/tabs';
import { useTRPC } from '@/components/trpc';
import { ArrayLuns } from './array-luns';

const TABS = ['summary', 'luns', 'events'] as const;
type Tab = (typeof TABS)[number];

/** Array detail (docs/ui.md §3.4): what lives on this array and who depends on it. */
export function ArrayDetailPage({ id }: { id: string }) {
  const trpc = useTRPC();
  const array = useQuery(trpc.arrays.get.queryOptions({ id }));
  const searchParams = useSearchParams();
  const requested = searchParams.get('tab');
  const tab: Tab = TABS.includes(requested as Tab) ? (requested as Tab) : 'summary';

  if (array.isPending) return <ArraySkeleton />;
  if (array.isError) {
    if (isNotFound(array.error)) return <NotFoundPanel title="Array not found" message={`No array with id ${id}. It may have been removed.`} listHref="/arrays" listLabel="Go to arrays" />;
    return (
      <div className="space-y-4">
        <h1 className="text-xl font-semibold tracking-tight">Array</h1>
        <QueryError error={array.error} onRetry={() => array.refetch()} what="this array" />
      </div>
    );
  }
  const data = array.data;

  return (
    <div className="space-y-4">
      <PageHeader
        title={
          <>
            <span>{data.name}</span>
            <StateBadge type="array" state={data.state} />
          </>
        }
        description={
          <p>
            {data.vendor} {data.model} · {formatTier(data.tier)} · {data.driver} driver
          </p>
        }
        actions={<EvacuateButton array={data} />}
      >
        <CapacityBar usedBytes={data.provisionedBytes} totalBytes={data.capacityBytes} label={`${data.name} capacity`} size="header" className="pt-2" />
      </PageHeader>
      <ArrayAlert array={data} />

      <div>
        <UrlTabList
          label="Array sections"
          idPrefix="array"
          value={tab}
          tabs={[
            { value: 'summary', label: 'Summary' },
            { value: 'luns', label: <TabLabel label="LUNs" count={data.lunCount} /> },
            { value: 'events', label: 'Events' },
          ]}
        />
        <TabPanel idPrefix="array" value={tab}>
          {tab === 'summary' ? <ArraySummary array={data} /> : null}
          {tab === 'luns' ? <ArrayLuns arrayId={data.id} arrayName={data.name} /> : null}
          {tab === 'events' ? (
            <Card className="px-4 py-2">
              <p className="pt-2 text-xs text-muted-foreground">Events about the array itself. Events about its LUNs appear on the Events page under object kind “lun”.</p>
              <ObjectTimeline objectKind="array" objectId={data.id} what={data.name} />
            </Card>
          ) : null}
        </TabPanel>
      </div>
    </div>
  );
}

/**
 * "Evacuate array…" (docs/ui.md §3.4): opens the wizard with this array chosen. Operators and admins
 * only; disabled with the reason when the array is offline, already evacuating or evacuated, or
 * holds no LUNs (P5).
 */
function EvacuateButton({ array }: { array: ArrayDetail }) {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions());
  const canOperate = me.data?.role === 'operator' || me.data?.role === 'admin';
  const reason = !me.data
    ? null
    : !canOperate
      ? 'Requires operator role.'
      : array.state === 'offline'
        ? 'The array is offline: nothing can be read from it.'
        : array.state === 'evacuating'
          ? 'The array is already being evacuated.'
          : array.state === 'evacuated'
            ? 'The array is evacuated: nothing is left on it.'
            : array.lunCount === 0
              ? 'The array holds no volumes.'
              : null;
  if (!reason && me.data) {
    return (
      <Link href={`/evacuations/new?arrays=${encodeURIComponent(array.name)}`} className={buttonVariants({ variant: 'outline' })}>
        <LogOut aria-hidden />
        Evacuate array…
      </Link>
    );
  }
  return (
    <div className="flex flex-col items-end gap-1">
      <Button variant="outline" aria-disabled="true" aria-describedby="evacuate-reason" onClick={(event) => event.preventDefault()}>
        <LogOut aria-hidden />
        Evacuate array…
      </Button>
      {reason ? (
        <p id="evacuate-reason" className="text-xs text-muted-foreground">
          {reason}
        </p>
      ) : null}
    </div>
  );
}

function ArrayAlert({ array }: { array: ArrayDetail }) {
  if (array.state === 'offline') {
    return (
      <Alert tone="danger" title="This array is offline.">
        <p>Nothing can be read from it. Volumes with a plex here keep running only on their other plexes.</p>
      </Alert>
    );
  }
  if (array.state === 'degraded') {
    return (
      <Alert tone="warning" title="This array is degraded.">
        <p>It still serves its LUNs, with a fault the driver reported.</p>
      </Alert>
    );
  }
  if (array.provisionedBytes > array.capacityBytes) {
    return (
      <Alert tone="warning" title="LUNs are provisioned beyond this array's capacity.">
        <p>
          {formatBytes(array.provisionedBytes)} of LUNs on {formatBytes(array.capacityBytes)} of capacity.
        </p>
      </Alert>
    );
  }
  return null;
}

function ArraySummary({ array }: { array: ArrayDetail }) {
  const trpc = useTRPC();
  // The server filters to hosts with a plex here; a page of 100 names them, the total counts them all.
  const hosts = useQuery(trpc.hosts.list.queryOptions({ arrayId: array.id, pageSize: 100 }));
  const users = hosts.data?.hosts ?? [];
  const userCount = hosts.data?.total ?? 0;
  const folder = typeof array.driverConfig.path === 'string' ? array.driverConfig.path : null;

  return (
    <div className="grid gap-4 xl:grid-cols-2">
      <Card aria-labelledby="capacity-title">
        <CardHeader>
          <CardTitle id="capacity-title">Capacity</CardTitle>
        </CardHeader>
        <CardContent>
          <dl className="grid grid-cols-[1fr_auto_auto] gap-x-4 gap-y-2 text-sm">
            <Figure label="Provisioned to LUNs" bytes={array.provisionedBytes} share={formatPercent(array.provisionedBytes, array.capacityBytes)} />
            <Figure label="Free" bytes={array.freeBytes} share={formatPercent(array.freeBytes, array.capacityBytes)} />
            <div className="col-span-3 border-t" />
            <Figure label="Capacity" bytes={array.capacityBytes} share="" strong />
          </dl>
          <p className="mt-4 text-xs text-muted-foreground">
            Used is the size of the LUNs carved on this array; the driver does not report thin provisioning or data reduction.
          </p>
        </CardContent>
      </Card>

      <Card aria-labelledby="array-facts-title">
        <CardHeader>
          <CardTitle id="array-facts-title">Array</CardTitle>
        </CardHeader>
        <CardContent>
          <dl className="grid grid-cols-[auto_1fr] gap-x-6 gap-y-2 text-sm">
            <dt className="text-muted-foreground">Vendor</dt>
            <dd>{array.vendor}</dd>
            <dt className="text-muted-foreground">Model</dt>
            <dd>{array.model}</dd>
            <dt className="text-muted-foreground">Tier</dt>
            <dd>{formatTier(array.tier)} (1 is the fastest)</dd>
            <dt className="text-muted-foreground">LUNs</dt>
            <dd className="tabular-nums">{formatInteger(array.lunCount)}</dd>
            <dt className="text-muted-foreground">Hosts with LUNs mapped</dt>
            <dd className="tabular-nums">{formatInteger(array.hostCount)}</dd>
            <dt className="text-muted-foreground">Driver</dt>
            <dd>
              {array.driver}
              {folder ? <span className="ml-2 font-mono text-xs break-all text-muted-foreground">{folder}</span> : null}
            </dd>
          </dl>
        </CardContent>
      </Card>

      <Card aria-labelledby="array-hosts-title" className="xl:col-span-2">
        <CardHeader>
          <CardTitle id="array-hosts-title">Hosts with volumes on this array</CardTitle>
        </CardHeader>
        <CardContent>
          {hosts.isPending ? (
            <Skeleton className="h-6 w-80" />
          ) : hosts.isError ? (
            <QueryError error={hosts.error} onRetry={() => hosts.refetch()} what="hosts" />
          ) : users.length === 0 ? (
            <p className="text-sm text-muted-foreground">No volume has a plex on this array.</p>
          ) : (
            <>
              <p className="mb-3 text-sm text-muted-foreground">{formatCount(userCount, 'host')} would be affected if this array went away.</p>
              <ul className="flex flex-wrap gap-x-6 gap-y-2 text-sm">
                {users.map((host) => (
                  <li key={host.id} className="flex items-center gap-2">
                    <Link href={`/hosts/${host.id}`} className="font-medium hover:underline">
                      {host.hostname}
                    </Link>
                    <StateBadge type="host" state={host.state} />
                  </li>
                ))}
              </ul>
              {userCount > users.length ? (
                <p className="mt-3 text-sm">
                  <Link href={`/hosts?array=${encodeURIComponent(array.name)}`} className="hover:underline">
                    and {formatInteger(userCount - users.length)} more — view all {formatInteger(userCount)} on the hosts page
                  </Link>
                </p>
              ) : null}
            </>
          )}
        </CardContent>
      </Card>
    </div>
  );
}

function Figure({ label, bytes, share, strong }: { label: string; bytes: number; share: string; strong?: boolean }) {
  return (
    <>
      <dt className={strong ? 'font-medium' : 'text-muted-foreground'}>{label}</dt>
      <dd className={strong ? 'text-right font-medium tabular-nums' : 'text-right tabular-nums'} title={formatBytesExact(bytes)}>
        {formatBytes(bytes)}
      </dd>
      <dd className="w-12 text-right text-muted-foreground tabular-nums">{share}</dd>
    </>
  );
}

function ArraySkeleton() {
  return (
    <div role="status" aria-label="Loading the array" className="space-y-4">
      <Skeleton className="h-7 w-56" />
      <Skeleton className="h-4 w-96" />
      <Skeleton className="h-3 w-52" />
      <Skeleton className="h-9 w-80" />
      <Skeleton className="h-72 rounded-lg" />
    </div>
  );
}
