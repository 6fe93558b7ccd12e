'use client';
import { useQuery } from '@tanstack/react-query';
import { ChevronRight, HardDrive } from 'lucide-react';
import Link from 'next/link';
import { useId, useState, type ReactNode } from 'react';
import type { DiskGroup, HostDetail, Plex, Volume } from '@/components/api-types';
import { EmptyState } from '@/components/data/query-states';
import { formatBytes, formatBytesExact, formatCount, formatRate, formatTier } from '@/components/format';
import { IdText } from '@/components/id-text';
import { MigrateSheet } from '@/components/migrations/migrate-sheet';
import { StateBadge } from '@/components/state-badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { cn } from '@/components/ui/cn';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useTRPC } from '@/components/trpc';

/**
 * The host's storage stack as a tree table: Disk group ▸ Volume ▸ Plex (docs/ui.md §3.6). What the
 * user collapsed is kept by id, so live updates (which replace the data) never reopen or
 * close anything; new disk groups and volumes arrive expanded. Operators and admins get a
 * "Migrate…" action per volume, which opens the Migrate sheet (docs/ui.md §3.7).
 */
export function VolumesTree({ host }: { host: HostDetail }) {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions());
  const canMigrate = me.data?.role === 'operator' || me.data?.role === 'admin';
  const [migrating, setMigrating] = useState<string | null>(null);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const toggle = (id: string) =>
    setCollapsed((current) => {
      const next = new Set(current);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const allIds = host.diskGroups.flatMap((group) => [group.id, ...group.volumes.map((volume) => volume.id)]);

  if (host.diskGroups.length === 0) {
    return (
      <EmptyState icon={HardDrive} title="No disk groups on this host">
        <p>The agent reports the host&apos;s disk groups, volumes and plexes with its heartbeats; none have been reported yet.</p>
      </EmptyState>
    );
  }

  return (
    <Card>
      <div className="flex items-center gap-2 border-b px-4 py-2">
        <p className="text-sm text-muted-foreground">
          {formatCount(host.diskGroups.length, 'disk group')} · {formatCount(allIds.length - host.diskGroups.length, 'volume')}
        </p>
        <div className="ml-auto flex gap-1">
          <Button variant="ghost" size="xs" onClick={() => setCollapsed(new Set())} disabled={collapsed.size === 0}>
            Expand all
          </Button>
          <Button variant="ghost" size="xs" onClick={() => setCollapsed(new Set(allIds))} disabled={collapsed.size === allIds.length}>
            Collapse all
          </Button>
        </div>
      </div>
      <Table>
        <TableHeader>
          <TableRow className="hover:bg-transparent">
            <TableHead className="pl-4">Name</TableHead>
            <TableHead className="text-right">Size</TableHead>
            <TableHead className="text-right">Write rate</TableHead>
            <TableHead>Plexes / LUN</TableHead>
            <TableHead>Array</TableHead>
            <TableHead>State</TableHead>
            {canMigrate ? <TableHead className="pr-4 text-right">Actions</TableHead> : null}
          </TableRow>
        </TableHeader>
        <TableBody>
          {host.diskGroups.map((group) => (
            <DiskGroupRows
              key={group.id}
              group={group}
              collapsed={collapsed}
              toggle={toggle}
              migrate={canMigrate ? { hostState: host.state, hostname: host.hostname, open: setMigrating } : null}
            />
          ))}
        </TableBody>
      </Table>
      {migrating ? <MigrateSheet volumeId={migrating} open onClose={() => setMigrating(null)} /> : null}
    </Card>
  );
}

/** What a volume row needs to offer "Migrate…"; null for viewers, who see no button (docs/ui.md §2.9). */
interface MigrateAction {
  hostState: HostDetail['state'];
  hostname: string;
  open: (volumeId: string) => void;
}

function DiskGroupRows({ group, collapsed, toggle, migrate }: { group: DiskGroup; collapsed: ReadonlySet<string>; toggle: (id: string) => void; migrate: MigrateAction | null }) {
  const open = !collapsed.has(group.id);
  const sizeBytes = group.volumes.reduce((sum, volume) => sum + volume.sizeBytes, 0);
  return (
    <>
      <TableRow className="bg-muted/30">
        <TableCell className="pl-4">
          <TreeToggle level={0} open={open} onToggle={() => toggle(group.id)} label={`disk group ${group.name}`}>
            <span className="font-semibold">{group.name}</span>
            <span className="text-xs text-muted-foreground">disk group</span>
          </TreeToggle>
        </TableCell>
        <TableCell className="text-right tabular-nums" title={formatBytesExact(sizeBytes)}>
          {formatBytes(sizeBytes)}
        </TableCell>
        <TableCell />
        <TableCell className="text-muted-foreground">{formatCount(group.volumes.length, 'volume')}</TableCell>
        <TableCell />
        <TableCell />
        {migrate ? <TableCell className="pr-4" /> : null}
      </TableRow>
      {open ? group.volumes.map((volume) => <VolumeRows key={volume.id} volume={volume} collapsed={collapsed} toggle={toggle} migrate={migrate} />) : null}
    </>
  );
}

function VolumeRows({ volume, collapsed, toggle, migrate }: { volume: Volume; collapsed: ReadonlySet<string>; toggle: (id: string) => void; migrate: MigrateAction | null }) {
  const open = !collapsed.has(volume.id);
  const plexes = volume.plexes.length;
  return (
    <>
      <TableRow id={`volume-${volume.id}`} className="target:bg-amber-50 dark:target:bg-amber-950/40">
        <TableCell className="pl-4">
          <TreeToggle level={1} open={open} onToggle={() => toggle(volume.id)} label={`volume ${volume.name}`} disabled={plexes === 0}>
            <span className="font-medium">{volume.name}</span>
          </TreeToggle>
        </TableCell>
        <TableCell className="text-right tabular-nums" title={formatBytesExact(volume.sizeBytes)}>
          {formatBytes(volume.sizeBytes)}
        </TableCell>
        <TableCell className="text-right tabular-nums">
          {volume.writeRateBytesPerS === null ? <span className="text-muted-foreground">—</span> : formatRate(volume.writeRateBytesPerS)}
        </TableCell>
        <TableCell className="text-muted-foreground">{plexes === 0 ? 'no plexes' : plexes === 1 ? '1 plex' : `${plexes} plexes (mirrored)`}</TableCell>
        <TableCell />
        <TableCell>
          {volume.migration ? (
            <Link href={`/migrations/${volume.migration.id}`} className="inline-flex" title={`Open the migration of ${volume.name}`}>
              <StateBadge type="migration" state={volume.migration.state} />
            </Link>
          ) : null}
        </TableCell>
        {migrate ? (
          <TableCell className="pr-4 text-right">
            <MigrateButton volume={volume} migrate={migrate} />
          </TableCell>
        ) : null}
      </TableRow>
      {open ? volume.plexes.map((plex) => <PlexRow key={plex.id} plex={plex} withActions={migrate !== null} />) : null}
    </>
  );
}

/** Disabled with its reason (P5) while the volume migrates or the host is not connected. */
function MigrateButton({ volume, migrate }: { volume: Volume; migrate: MigrateAction }) {
  const reasonId = useId();
  const reason = volume.migration
    ? `Already migrating (${volume.migration.state}); open the migration to follow or cancel it`
    : migrate.hostState !== 'connected'
      ? `Host ${migrate.hostname} is ${migrate.hostState}; a migration starts only on a connected host`
      : null;
  return (
    <>
      <Button
        variant="outline"
        size="xs"
        aria-disabled={reason ? true : undefined}
        aria-describedby={reason ? reasonId : undefined}
        title={reason ?? undefined}
        data-testid={`migrate-${volume.name}`}
        onClick={() => {
          if (!reason) migrate.open(volume.id);
        }}
      >
        Migrate…
      </Button>
      {reason ? (
        <span id={reasonId} className="sr-only">
          {reason}
        </span>
      ) : null}
    </>
  );
}

function PlexRow({ plex, withActions }: { plex: Plex; withActions: boolean }) {
  return (
    <TableRow>
      <TableCell className="pl-4">
        <div className="flex items-center gap-1.5" style={{ paddingLeft: '4.875rem' }}>
          <span className="text-sm">{plex.name}</span>
          <span className="text-xs text-muted-foreground">plex</span>
        </div>
      </TableCell>
      <TableCell />
      <TableCell />
      <TableCell>
        {plex.lunName && plex.lunWwn ? (
          <span className="flex flex-wrap items-center gap-x-2">
            <span>{plex.lunName}</span>
            <IdText value={plex.lunWwn} label="WWN" />
          </span>
        ) : (
          <span className="text-muted-foreground" title={plex.lunPath}>
            LUN unknown to the console · <span className="font-mono text-xs">{plex.lunPath}</span>
          </span>
        )}
      </TableCell>
      <TableCell className="whitespace-nowrap">
        {plex.arrayId && plex.arrayName ? (
          <>
            <Link href={`/arrays/${plex.arrayId}`} className="font-medium hover:underline">
              {plex.arrayName}
            </Link>
            {plex.arrayTier !== null ? <span className="ml-2 text-xs text-muted-foreground">{formatTier(plex.arrayTier)}</span> : null}
          </>
        ) : (
          <span className="text-muted-foreground">—</span>
        )}
      </TableCell>
      <TableCell className={withActions ? undefined : 'pr-4'}>
        <StateBadge type="plex" state={plex.state} />
      </TableCell>
      {withActions ? <TableCell className="pr-4" /> : null}
    </TableRow>
  );
}

function TreeToggle({ level, open, onToggle, label, disabled, children }: { level: number; open: boolean; onToggle: () => void; label: string; disabled?: boolean; children: ReactNode }) {
  return (
    <div className="flex items-center gap-1.5" style={{ paddingLeft: `${level * 1.5}rem` }}>
      <button
        type="button"
        onClick={onToggle}
        disabled={disabled}
        aria-expanded={disabled ? undefined : open}
        aria-label={`${open ? 'Collapse' : 'Expand'} ${label}`}
        className="inline-flex size-6 items-center justify-center rounded text-muted-foreground hover:bg-accent hover:text-foreground disabled:invisible"
      >
        <ChevronRight aria-hidden className={cn('size-4 transition-transform motion-reduce:transition-none', open && 'rotate-90')} />
      </button>
      {children}
    </div>
  );
}
