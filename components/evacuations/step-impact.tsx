'use client';
/**
 * Wizard step 2, Impact (docs/ui.md §3.10): what lives on the sources — hosts, volumes, bytes, LUNs
 * and the write rate now and at p95, the planner's warnings, and every volume grouped by host.
 * It never blocks; the warnings are carried into Review.
 */
import { Info, TriangleExclamationPoint } from 'lucide-react';
import { useMemo, useState } from 'react';
import { formatBytes, formatCount, formatInteger, formatRate } from '@/components/format';
import { Skeleton } from '@/components/ui/skeleton';
import { Input, Label } from '@/components/ui/input';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { cn } from '@/components/ui/cn';
import { FigureCard } from './wizard-parts';
import type { WizardModel } from './wizard-model';

interface ImpactVolume {
  key: string;
  volumeId: string;
  hostname: string;
  nbdExport: string;
  sizeBytes: number;
  writeRateBytesPerS: number | null;
  problem: string | null;
}

export function StepImpact({ model }: { model: WizardModel }) {
  const { plan } = model;
  const [q, setQ] = useState('');
  const [onlyWarnings, setOnlyWarnings] = useState(false);
  const [filterIds, setFilterIds] = useState<string[] | null>(null);
  const volumes = useMemo<ImpactVolume[]>(() => {
    if (!plan) return [];
    return [
      ...plan.moves.map((m) => ({ key: m.key, volumeId: m.volumeId, hostname: m.hostname, nbdExport: m.nbdExport, sizeBytes: m.sizeBytes, writeRateBytesPerS: m.writeRateBytesPerS, problem: null })),
      ...plan.cannotMove.map((c) => ({ key: c.key, volumeId: c.volumeId, hostname: c.hostname, nbdExport: c.nbdExport, sizeBytes: c.sizeBytes, writeRateBytesPerS: null, problem: c.reason })),
    ];
  }, [plan]);
  if (!plan) return model.planError ? <p className="text-sm text-red-700 dark:text-red-400">The dry run failed: {model.planError}</p> : <Skeleton className="h-64" />;

  const sourceNames = plan.sources.map((s) => s.name).join(' and ');
  const luns = plan.sources.reduce((sum, s) => sum + s.luns, 0);
  const warned = new Set(plan.warnings.flatMap((w) => w.volumeIds));
  const shown = volumes.filter(
    (v) => (!q || `${v.hostname}/${v.nbdExport}`.toLowerCase().includes(q.toLowerCase())) && (!onlyWarnings || warned.has(v.volumeId) || v.problem) && (!filterIds || filterIds.includes(v.volumeId)),
  );
  const byHost = new Map<string, ImpactVolume[]>();
  for (const v of shown) byHost.set(v.hostname, [...(byHost.get(v.hostname) ?? []), v]);

  return (
    <div className="space-y-4">
      <p className="text-sm">
        {sourceNames} {plan.sources.length === 1 ? 'holds' : 'hold'} {formatCount(plan.totals.plexes, 'volume plex', 'volume plexes')} ({formatBytes(plan.totals.bytes)}) for {formatCount(plan.totals.hosts, 'host')} on{' '}
        {formatCount(luns, 'LUN')}. Applications write {formatRate(plan.totals.writeRateBytesPerS)} to them now (p95 over the last hour: {formatRate(plan.totals.writeRateP95BytesPerS)}).
      </p>
      <div className="grid grid-cols-[repeat(auto-fit,minmax(8.5rem,1fr))] gap-2" data-testid="impact-cards">
        <FigureCard label="Hosts" value={formatInteger(plan.totals.hosts)} />
        <FigureCard label="Volumes" value={formatInteger(plan.totals.volumes)} detail={`${formatInteger(plan.totals.plexes)} plexes`} />
        <FigureCard label="Bytes" value={formatBytes(plan.totals.bytes)} />
        <FigureCard label="LUNs" value={formatInteger(luns)} />
        <FigureCard label="Writes now" value={formatRate(plan.totals.writeRateBytesPerS)} detail={`p95 over 1 h: ${formatRate(plan.totals.writeRateP95BytesPerS)}`} />
      </div>

      <section aria-labelledby="impact-warnings" className="space-y-2">
        <h3 id="impact-warnings" className="text-sm font-semibold">
          Warnings ({plan.warnings.length})
        </h3>
        {plan.warnings.length === 0 ? (
          <p className="text-sm text-muted-foreground">None: every volume is on a connected host, and none writes faster than pre-copy can follow.</p>
        ) : (
          <ul className="space-y-1 text-sm">
            {plan.warnings.map((w) => (
              <li key={`${w.code}-${w.message}`} className="flex items-start gap-2">
                {w.severity === 'warning' ? <TriangleExclamationPoint aria-hidden className="mt-0.5 size-4 shrink-0 text-amber-600" /> : <Info aria-hidden className="mt-0.5 size-4 shrink-0 text-muted-foreground" />}
                <span className="flex-1">{w.message}</span>
                {w.volumeIds.length ? (
                  <button type="button" className="text-xs underline" onClick={() => setFilterIds(w.volumeIds)}>
                    View
                  </button>
                ) : null}
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="impact-volumes" className="space-y-2">
        <div className="flex flex-wrap items-center gap-3">
          <h3 id="impact-volumes" className="text-sm font-semibold">
            Volumes by host
          </h3>
          <Label htmlFor="impact-search" className="sr-only">
            Search volumes
          </Label>
          <Input id="impact-search" placeholder="Search volumes" className="h-8 w-56" value={q} onChange={(event) => setQ(event.target.value)} />
          <label className="flex items-center gap-1 text-sm">
            <input type="checkbox" checked={onlyWarnings} onChange={(event) => setOnlyWarnings(event.target.checked)} /> Warnings only
          </label>
          {filterIds ? (
            <button type="button" className="text-xs underline" onClick={() => setFilterIds(null)}>
              Show all volumes
            </button>
          ) : null}
        </div>
        <div className="rounded-md border">
          <Table>
            <TableHeader>
              <TableRow className="hover:bg-transparent">
                <TableHead className="pl-3">Host / volume</TableHead>
                <TableHead className="text-right">Size</TableHead>
                <TableHead className="text-right">Writes now</TableHead>
                <TableHead>Status</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {[...byHost].map(([hostname, rows]) => (
                <HostRows key={hostname} hostname={hostname} rows={rows} warned={warned} />
              ))}
            </TableBody>
          </Table>
          {shown.length === 0 ? <p className="px-3 py-6 text-center text-sm text-muted-foreground">No volumes match.</p> : null}
        </div>
      </section>
    </div>
  );
}

function HostRows({ hostname, rows, warned }: { hostname: string; rows: ImpactVolume[]; warned: Set<string> }) {
  const total = rows.reduce((sum, r) => sum + r.sizeBytes, 0);
  return (
    <>
      <TableRow className="bg-muted/40 hover:bg-muted/40">
        <TableCell colSpan={4} className="pl-3 font-medium">
          {hostname} <span className="font-normal text-muted-foreground">({formatCount(rows.length, 'volume')}, {formatBytes(total)})</span>
        </TableCell>
      </TableRow>
      {rows.map((v) => (
        <TableRow key={v.key} data-testid="impact-volume" data-volume={`${v.hostname}/${v.nbdExport}`}>
          <TableCell className="pl-8">{v.nbdExport}</TableCell>
          <TableCell className="text-right tabular-nums">{formatBytes(v.sizeBytes)}</TableCell>
          <TableCell className="text-right tabular-nums">{v.writeRateBytesPerS === null ? '—' : formatRate(v.writeRateBytesPerS)}</TableCell>
          <TableCell className={cn('text-xs', v.problem ? 'text-red-700 dark:text-red-400' : warned.has(v.volumeId) ? 'text-amber-700 dark:text-amber-400' : 'text-muted-foreground')}>
            {v.problem ?? (warned.has(v.volumeId) ? 'see warnings' : 'can move')}
          </TableCell>
        </TableRow>
      ))}
    </>
  );
}
