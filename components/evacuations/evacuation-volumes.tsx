'use client';
/**
 * The evacuation's volumes (docs/ui.md §3.11.2): the migrations list's columns and phase bar plus the
 * target, with presets Active · Needs attention · Done · All, and the excluded volumes listed
 * with why. Rows never move under the pointer (useRowFreeze).
 */
import Link from 'next/link';
import { useState } from 'react';
import type { MigrationRow } from '@/components/api-types';
import { useRowFreeze } from '@/components/data/use-row-freeze';
import { formatBytes, formatInteger } from '@/components/format';
import { CopyRate, Eta } from '@/components/migrations/migration-cells';
import { PhaseBar } from '@/components/migrations/phase-bar';
import { StateBadge } from '@/components/state-badge';
import { Badge } from '@/components/ui/badge';
import { cn } from '@/components/ui/cn';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';

const DONE = ['completed', 'failed', 'cancelled', 'rolled-back'];
const PRESETS = ['active', 'attention', 'done', 'all'] as const;
type Preset = (typeof PRESETS)[number];
const LABEL: Record<Preset, string> = { active: 'Active', attention: 'Needs attention', done: 'Done', all: 'All' };

const needsAttention = (m: MigrationRow) => m.state === 'failed' || Boolean(m.agentUnreachableSince) || (m.state === 'ready' && m.cutoverPolicy.mode !== 'auto') || (m.state === 'verified' && m.cutoverPolicy.commit === 'manual');

function inPreset(preset: Preset, m: MigrationRow): boolean {
  if (preset === 'active') return !DONE.includes(m.state);
  if (preset === 'attention') return needsAttention(m);
  if (preset === 'done') return DONE.includes(m.state);
  return true;
}

function leftOf(m: MigrationRow): number | null {
  return m.state === 'copying' || m.state === 'syncing' || m.state === 'ready' || m.state === 'paused' ? m.dirtyBytes : null;
}

export function EvacuationVolumes({ migrations, exclusions }: { migrations: readonly MigrationRow[]; exclusions: readonly { volume: string; reason: string }[] }) {
  const anyActive = migrations.some((m) => !DONE.includes(m.state));
  const [preset, setPreset] = useState<Preset>(anyActive ? 'active' : 'all');
  const shown = migrations.filter((m) => inPreset(preset, m));
  const { rows, handlers } = useRowFreeze(
    [...shown].sort((a, b) => `${a.hostname}/${a.nbdExport}`.localeCompare(`${b.hostname}/${b.nbdExport}`)),
    (m) => m.id,
  );
  return (
    <div className="space-y-2">
      <nav aria-label="Which volumes" className="inline-flex rounded-md border p-0.5 text-sm">
        {PRESETS.map((name) => (
          <button
            key={name}
            type="button"
            aria-pressed={preset === name}
            onClick={() => setPreset(name)}
            className={cn('rounded px-3 py-1 tabular-nums text-muted-foreground hover:text-foreground', preset === name && 'bg-accent font-medium text-foreground')}
          >
            {LABEL[name]} <span className="text-xs">({formatInteger(migrations.filter((m) => inPreset(name, m)).length)})</span>
          </button>
        ))}
      </nav>
      <Table>
        <TableHeader>
          <TableRow className="hover:bg-transparent">
            <TableHead className="pl-4">Volume</TableHead>
            <TableHead>State</TableHead>
            <TableHead>Phase</TableHead>
            <TableHead className="text-right">Left</TableHead>
            <TableHead>Rate</TableHead>
            <TableHead>ETA</TableHead>
            <TableHead>Target</TableHead>
            <TableHead className="pr-4">Strategy</TableHead>
          </TableRow>
        </TableHeader>
        <TableBody {...handlers}>
          {rows.map((m) => {
            const left = leftOf(m);
            return (
              <TableRow key={m.id} data-testid="evacuation-volume" data-state={m.state} data-volume={`${m.hostname}/${m.nbdExport}`}>
                <TableCell className="pl-4">
                  <Link href={`/migrations/${m.id}`} className="hover:underline" title={`${m.hostname} / ${m.diskGroupName} / ${m.volumeName}`}>
                    <span className="text-muted-foreground">{m.hostname} / </span>
                    <span className="font-medium">{m.volumeName}</span>
                  </Link>
                </TableCell>
                <TableCell>
                  <div className="flex flex-wrap items-center gap-1">
                    <StateBadge type="migration" state={m.state} />
                    {m.agentUnreachableSince ? <Badge tone="warning">agent unreachable</Badge> : null}
                  </div>
                  {m.state === 'failed' && m.error ? (
                    <p className="mt-1 max-w-64 truncate text-xs text-red-700 dark:text-red-400" title={m.error}>
                      {m.error}
                    </p>
                  ) : null}
                </TableCell>
                <TableCell>
                  <PhaseBar migration={m} />
                </TableCell>
                <TableCell className="text-right whitespace-nowrap tabular-nums">{left === null ? <span className="text-muted-foreground">—</span> : formatBytes(left)}</TableCell>
                <TableCell className="whitespace-nowrap">
                  <CopyRate migration={m} />
                </TableCell>
                <TableCell>
                  <Eta migration={m} />
                </TableCell>
                <TableCell className="whitespace-nowrap">{m.targetArrayName}</TableCell>
                <TableCell className="pr-4">{m.strategy === 'precopy' ? 'Pre-copy' : 'Mirror'}</TableCell>
              </TableRow>
            );
          })}
          {preset === 'all'
            ? exclusions.map((x) => (
                <TableRow key={`x-${x.volume}`} data-testid="evacuation-volume" data-state="excluded">
                  <TableCell className="pl-4 font-medium">{x.volume}</TableCell>
                  <TableCell>
                    <Badge tone="neutral">Excluded</Badge>
                  </TableCell>
                  <TableCell colSpan={6} className="text-xs text-muted-foreground">
                    {x.reason}
                  </TableCell>
                </TableRow>
              ))
            : null}
        </TableBody>
      </Table>
      {rows.length === 0 ? <p className="px-4 py-6 text-center text-sm text-muted-foreground">{preset === 'attention' ? 'No volume needs you.' : 'No volumes here.'}</p> : null}
    </div>
  );
}
