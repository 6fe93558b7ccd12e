'use client';
import { useQuery } from '@tanstack/react-query';
import { Activity } from 'lucide-react';
import { FacetSelect, FilterBar, TextFilter } from '@/components/data/filter-bar';
import { EmptyState, FilteredEmpty, QueryError, TableSkeleton } from '@/components/data/query-states';
import { useDebouncedUrlParam, useUrlParams } from '@/components/data/use-url-params';
import { formatAbsolute, formatInteger } from '@/components/format';
import { PageHeader } from '@/components/page-header';
import { RelativeTime } from '@/components/relative-time';
import { SeverityIcon, stateLabel } from '@/components/state-badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { Spinner } from '@/components/ui/spinner';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useTRPC } from '@/components/trpc';
import { actorLabel, EventObject } from './object-link';
import { useEventPages, type EventFilter } from './use-event-pages';

const SEVERITIES = ['info', 'warning', 'error'] as const;
type Severity = (typeof SEVERITIES)[number];
const OBJECT_KINDS = [
  { value: 'host', label: 'Host' },
  { value: 'array', label: 'Array' },
  { value: 'lun', label: 'LUN' },
  { value: 'user', label: 'User' },
  { value: 'agent-token', label: 'Enrolment token' },
  { value: 'api', label: 'API' },
];

/**
 * The events page (docs/ui.md §3.12): the full history and audit trail, newest first, filtered
 * by kind, object kind, severity and text (all in the URL), "Load older" by cursor. New
 * events arrive at the top through the live layer's invalidation.
 */
export function EventsPage() {
  const trpc = useTRPC();
  const kinds = useQuery(trpc.events.kinds.queryOptions());
  const { params, update } = useUrlParams();
  const [text, setText] = useDebouncedUrlParam('q');
  const severityParam = params.get('severity');
  const filter: EventFilter = {
    kind: params.get('kind') ?? undefined,
    objectKind: params.get('object') ?? undefined,
    severity: SEVERITIES.includes(severityParam as Severity) ? (severityParam as Severity) : undefined,
    q: params.get('q') ?? undefined,
  };
  const events = useEventPages(filter);
  const rows = events.data?.pages.flatMap((page) => page.events) ?? [];
  const filtering = Boolean(filter.kind || filter.objectKind || filter.severity || filter.q || text);
  const clear = () => {
    setText('');
    update({ q: null, kind: null, object: null, severity: null });
  };

  // Kinds are dotted (`host.disconnected`); offer each family (`host`) as well, which the
  // server matches as a prefix.
  const families = [...new Set((kinds.data ?? []).map((kind) => kind.split('.')[0] ?? kind))];
  const kindOptions = [
    ...families.map((family) => ({ value: family, label: `${family}.*` })),
    ...(kinds.data ?? []).filter((kind) => !families.includes(kind)).map((kind) => ({ value: kind, label: kind })),
  ].sort((a, b) => a.value.localeCompare(b.value));

  return (
    <div className="space-y-4">
      <PageHeader title="Events" description="Everything that happened on the fleet and who did it, newest first." />
      <FilterBar canClear={filtering} onClear={clear} summary={events.data ? `${formatInteger(rows.length)} shown${events.hasNextPage ? ', more older' : ''}` : null}>
        <TextFilter label="Search event messages, objects and actors" placeholder="Search messages, objects, actors" value={text} onChange={setText} />
        <FacetSelect label="Kind" value={filter.kind ?? ''} onChange={(value) => update({ kind: value || null })} options={kindOptions} />
        <FacetSelect label="Object" value={filter.objectKind ?? ''} onChange={(value) => update({ object: value || null })} options={OBJECT_KINDS} />
        <FacetSelect
          label="Severity"
          value={filter.severity ?? ''}
          onChange={(value) => update({ severity: value || null })}
          options={SEVERITIES.map((severity) => ({ value: severity, label: stateLabel('severity', severity) }))}
        />
      </FilterBar>

      <Card>
        {events.isPending ? (
          <TableSkeleton columns={6} rows={8} label="Loading events" />
        ) : events.isError ? (
          <QueryError error={events.error} onRetry={() => events.refetch()} what="events" className="m-4" />
        ) : rows.length === 0 ? (
          filtering ? (
            <FilteredEmpty what="events" onClear={clear} />
          ) : (
            <EmptyState icon={Activity} title="No events yet" className="m-4 border-0" />
          )
        ) : (
          <>
            <Table>
              <TableHeader>
                <TableRow className="hover:bg-transparent">
                  <TableHead className="w-28 pl-4">Time</TableHead>
                  <TableHead className="w-28">Severity</TableHead>
                  <TableHead>Kind</TableHead>
                  <TableHead>Object</TableHead>
                  <TableHead>Message</TableHead>
                  <TableHead className="pr-4">Actor</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {rows.map((event) => (
                  <TableRow key={event.id} data-event-id={event.id}>
                    <TableCell className="pl-4 align-top whitespace-nowrap">
                      <RelativeTime value={event.at} className="text-muted-foreground" />
                      <span className="sr-only">, {formatAbsolute(event.at)}</span>
                    </TableCell>
                    <TableCell className="align-top whitespace-nowrap">
                      <span className="inline-flex items-center gap-1.5">
                        <SeverityIcon severity={event.severity} />
                        <span aria-hidden>{stateLabel('severity', event.severity)}</span>
                      </span>
                    </TableCell>
                    <TableCell className="align-top font-mono text-xs whitespace-nowrap">{event.kind}</TableCell>
                    <TableCell className="max-w-48 align-top">
                      <EventObject event={event} />
                    </TableCell>
                    <TableCell className="min-w-72 align-top">{event.message}</TableCell>
                    <TableCell className="pr-4 align-top whitespace-nowrap text-muted-foreground">{actorLabel(event)}</TableCell>
                  </TableRow>
                ))}
              </TableBody>
            </Table>
            <div className="flex items-center justify-center border-t px-4 py-3">
              {events.hasNextPage ? (
                <Button variant="outline" size="sm" onClick={() => events.fetchNextPage()} disabled={events.isFetchingNextPage}>
                  {events.isFetchingNextPage ? <Spinner /> : null}
                  Load older
                </Button>
              ) : (
                <p className="text-xs text-muted-foreground">That is the oldest event{filtering ? ' matching these filters' : ''}.</p>
              )}
            </div>
          </>
        )}
      </Card>
    </div>
  );
}
