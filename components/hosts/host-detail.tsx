'use client';
import { useQuery } from '@tanstack/react-query';
import { useSearchParams } from 'next/navigation';
import type { HostDetail } from '@/components/api-types';
import { isNotFound, QueryError } from '@/components/data/query-states';
import { ObjectTimeline } from '@/components/events/object-timeline';
import { formatAbsoluteLong } from '@/components/format';
import { NotFoundPanel } from '@/components/not-found-panel';
import { PageHeader } from '@/components/page-header';
import { RelativeTime, Since } from '@/components/relative-time';
import { StateBadge } from '@/components/state-badge';
import { Alert } from '@/components/ui/alert';
import { Card } from '@/components/ui/card';
import { Skeleton } from '@/components/ui/skeleton';
import { TabPanel, UrlTabList } from '@/components/ui/tabs';
import { useTRPC } from '@/components/trpc';
import { FenceHostAction } from './fence-host';
import { LATE_HEARTBEAT_MS } from './hosts-page';
import { MappedLuns } from './mapped-luns';
import { VolumesTree } from './volumes-tree';

const TABS = ['volumes', 'mapped', 'events'] as const;
type Tab = (typeof TABS)[number];

/** Host detail (docs/ui.md §3.6): the host's storage stack, its agent, and its events. */
export function HostDetailPage({ id }: { id: string }) {
  const trpc = useTRPC();
  const host = useQuery(trpc.hosts.get.queryOptions({ id }));
  const searchParams = useSearchParams();
  const requested = searchParams.get('tab');
  const tab: Tab = TABS.includes(requested as Tab) ? (requested as Tab) : 'volumes';

  if (host.isPending) return <HostSkeleton />;
  if (host.isError) {
    if (isNotFound(host.error)) return <NotFoundPanel title="Host not found" message={`No host with id ${id}. It may have been removed.`} listHref="/hosts" listLabel="Go to hosts" />;
    return (
      <div className="space-y-4">
        <h1 className="text-xl font-semibold tracking-tight">Host</h1>
        <QueryError error={host.error} onRetry={() => host.refetch()} what="this host" />
      </div>
    );
  }
  const data = host.data;
  const volumeCount = data.diskGroups.reduce((sum, group) => sum + group.volumes.length, 0);

  return (
    <div className="space-y-4">
      <PageHeader
        title={
          <>
            <span>{data.hostname}</span>
            <StateBadge type="host" state={data.state} />
          </>
        }
        description={<HostIdentity host={data} />}
        actions={<FenceHostAction host={data} />}
      />
      <HostAlert host={data} />

      <div>
        <UrlTabList
          label="Host sections"
          idPrefix="host"
          value={tab}
          tabs={[
            { value: 'volumes', label: <TabLabel label="Volumes" count={volumeCount} /> },
            { value: 'mapped', label: <TabLabel label="LUNs mapped" count={data.mappedLuns.length} /> },
            { value: 'events', label: 'Events' },
          ]}
        />
        <TabPanel idPrefix="host" value={tab}>
          {tab === 'volumes' ? <VolumesTree host={data} /> : null}
          {tab === 'mapped' ? <MappedLuns host={data} /> : null}
          {tab === 'events' ? (
            <Card className="px-4 py-2">
              <ObjectTimeline objectKind="host" objectId={data.id} what={data.hostname} />
            </Card>
          ) : null}
        </TabPanel>
      </div>
    </div>
  );
}

export function TabLabel({ label, count }: { label: string; count: number }) {
  return (
    <>
      {label}{' '}
      <span className="rounded-full bg-muted px-1.5 text-xs tabular-nums text-muted-foreground">{count}</span>
    </>
  );
}

function HostIdentity({ host }: { host: HostDetail }) {
  return (
    <p className="flex flex-wrap items-center gap-x-2 gap-y-1">
      <span>agent {host.agentVersion ?? 'version unknown'}</span>
      <span aria-hidden>·</span>
      <span>
        last heartbeat <RelativeTime value={host.lastHeartbeatAt} warnAfterMs={LATE_HEARTBEAT_MS} />
      </span>
      {host.agentUrl ? (
        <>
          <span aria-hidden>·</span>
          <span className="font-mono text-xs">{host.agentUrl}</span>
        </>
      ) : null}
      <span aria-hidden>·</span>
      <span title={formatAbsoluteLong(host.enrolledAt)}>
        enrolled <RelativeTime value={host.enrolledAt} />
      </span>
    </p>
  );
}

/** The condition on this host that holds now (docs/ui.md §3.6): disconnected or fenced. */
function HostAlert({ host }: { host: HostDetail }) {
  if (host.state === 'disconnected') {
    return (
      <Alert tone="warning" title={<>No heartbeat for <Since value={host.lastHeartbeatAt ?? host.stateSince} />.</>}>
        <p>Its migrations keep running on the host and will report again when it returns. Figures for this host are as of its last heartbeat.</p>
      </Alert>
    );
  }
  if (host.state === 'fenced') {
    return (
      <Alert tone="danger" title="This host is fenced.">
        <p>Its agent&apos;s credential is revoked: the console refuses its heartbeats and the engine no longer drives its migrations. To bring it back, create an enrolment token and start its agent again with it.</p>
      </Alert>
    );
  }
  if (host.state === 'pending') {
    return (
      <Alert title="Waiting for the first heartbeat.">
        <p>The agent enrolled; the host turns connected when its first heartbeat arrives.</p>
      </Alert>
    );
  }
  return null;
}

function HostSkeleton() {
  return (
    <div role="status" aria-label="Loading the host" className="space-y-4">
      <Skeleton className="h-7 w-56" />
      <Skeleton className="h-4 w-96" />
      <Skeleton className="h-9 w-80" />
      <Skeleton className="h-80 rounded-lg" />
    </div>
  );
}
