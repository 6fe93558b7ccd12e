'use client';
import { ChevronRight, HardDrive } from 'lucide-react';
import Link from 'next/link';
import { useState, type ReactNode } from 'react';
import type { DiskGroup, HostDetail, Plex, Volume } from '@/components/api-types';
import { EmptyState } from '@/components/data/query-states';
import { formatBytes, formatBytesExact, formatCount, formatRate, formatTier } from '@/components/format';
import { IdText } from '@/components/id-text';
import { StateBadge } from '@/components/state-badge';
import { Button } from '@/components/ui/button';
import { Card } from '@/components/ui/card';
import { cn } from '@/components/ui/cn';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';

/**
 * The host's storage stack as a tree table: Disk group ▸ Volume ▸ Plex (UI.md §3.6). What the
 * user collapsed is kept by id, so live updates (which replace the data) never reopen or
 * close anything; new disk groups and volumes arrive expanded.
 */
export function VolumesTree({ host }: { host: HostDetail }) {
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
            <TableHead className="pr-4">State</TableHead>
          </TableRow>
        </TableHeader>
        <TableBody>
          {host.diskGroups.map((group) => (
            <DiskGroupRows key={group.id} group={group} collapsed={collapsed} toggle={toggle} />
          ))}
        </TableBody>
      </Table>
    </Card>
  );
}

function DiskGroupRows({ group, collapsed, toggle }: { group: DiskGroup; collapsed: ReadonlySet<string>; toggle: (id: string) => void }) {
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
        <TableCell className="pr-4" />
      </TableRow>
      {open ? group.volumes.map((volume) => <VolumeRows key={volume.id} volume={volume} collapsed={collapsed} toggle={toggle} />) : null}
    </>
  );
}

function VolumeRows({ volume, collapsed, toggle }: { volume: Volume; collapsed: ReadonlySet<string>; toggle: (id: string) => void }) {
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
        <TableCell className="pr-4" />
      </TableRow>
      {open ? volume.plexes.map((plex) => <PlexRow key={plex.id} plex={plex} />) : null}
    </>
  );
}

function PlexRow({ plex }: { plex: Plex }) {
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
      <TableCell className="pr-4">
        <StateBadge type="plex" state={plex.state} />
      </TableCell>
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
