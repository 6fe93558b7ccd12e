'use client';
/**
 * The printable evacuation report (docs/ui.md §3.11.4): who, when, limits and window, exclusions, the
 * decommission checks and one row per volume, with a CSV of the same columns. A print stylesheet
 * hides the console shell and prints black on white, a page break between sections and the
 * table header repeated on each page.
 */
import { useQuery } from '@tanstack/react-query';
import { Printer } from 'lucide-react';
import Link from 'next/link';
import { isNotFound, QueryError } from '@/components/data/query-states';
import { formatAbsoluteLong, formatBytes, formatLatency, formatRate } from '@/components/format';
import { NotFoundPanel } from '@/components/not-found-panel';
import { Button } from '@/components/ui/button';
import { Skeleton } from '@/components/ui/skeleton';
import { useTRPC } from '@/components/trpc';
import { ExportCsvButton } from './evacuation-detail';

const PRINT_CSS = `
@media print {
  @page { margin: 14mm; }
  body * { visibility: hidden !important; }
  #evacuation-report, #evacuation-report * { visibility: visible !important; color: #000 !important; background: #fff !important; box-shadow: none !important; }
  #evacuation-report { position: absolute; inset: 0 auto auto 0; width: 100%; padding: 0 !important; }
  #evacuation-report .no-print { display: none !important; }
  #evacuation-report section { break-before: page; }
  #evacuation-report section:first-of-type { break-before: auto; }
  #evacuation-report thead { display: table-header-group; }
  #evacuation-report tr { break-inside: avoid; }
}`;

const when = (value: Date | number | string | null | undefined) => (value === null || value === undefined ? '—' : formatAbsoluteLong(new Date(value)));

export function EvacuationReportPage({ id }: { id: string }) {
  const trpc = useTRPC();
  const report = useQuery(trpc.evacuations.report.queryOptions({ id }));
  if (report.isPending) return <Skeleton className="h-96" />;
  if (report.isError) {
    if (isNotFound(report.error)) return <NotFoundPanel title="Evacuation not found" message={`No evacuation with id ${id}.`} listHref="/evacuations" listLabel="Go to evacuations" />;
    return <QueryError error={report.error} onRetry={() => report.refetch()} what="the report" />;
  }
  const r = report.data;
  const sourceNames = r.sources.map((s) => s.name).join(', ');
  const bandwidth = Object.entries(r.limits.arrayBandwidthBytesPerS ?? {});

  return (
    <article id="evacuation-report" className="mx-auto max-w-5xl space-y-6 bg-background text-sm" data-testid="evacuation-report">
      <style>{PRINT_CSS}</style>
      <div className="no-print flex items-center gap-2">
        <Link href={`/evacuations/${id}`} className="text-sm underline">
          ← Back to the evacuation
        </Link>
        <span className="ml-auto" />
        <ExportCsvButton id={id} name={r.sources.map((s) => s.name).join('-')} label="Download CSV" />
        <Button size="sm" variant="outline" onClick={() => window.print()}>
          <Printer aria-hidden /> Print
        </Button>
      </div>

      <header className="space-y-1">
        <h1 className="text-xl font-semibold">Evacuation report: {sourceNames}</h1>
        <p className="font-mono text-xs text-muted-foreground">{r.evacuation.id}</p>
        <p>
          State: <span className="font-medium">{r.evacuation.state}</span>
        </p>
      </header>

      <section aria-labelledby="report-summary" className="space-y-2">
        <h2 id="report-summary" className="text-base font-semibold">
          Summary
        </h2>
        <dl className="grid grid-cols-[12rem_1fr] gap-x-4 gap-y-1">
          <dt className="text-muted-foreground">Source arrays</dt>
          <dd>{sourceNames}</dd>
          <dt className="text-muted-foreground">Target arrays</dt>
          <dd>{r.targets.map((t) => t.name).join(', ') || '—'}</dd>
          <dt className="text-muted-foreground">Started by</dt>
          <dd>{r.createdBy}</dd>
          <dt className="text-muted-foreground">Started</dt>
          <dd>{when(r.startedAt)}</dd>
          <dt className="text-muted-foreground">Ended</dt>
          <dd>{when(r.endedAt)}</dd>
          <dt className="text-muted-foreground">Concurrency</dt>
          <dd>
            global {r.limits.global ?? '—'}, per host {r.limits.perHost ?? '—'}, per source array {r.limits.perSourceArray ?? '—'}, per target array {r.limits.perTargetArray ?? '—'}
          </dd>
          <dt className="text-muted-foreground">Bandwidth budgets</dt>
          <dd>{bandwidth.length ? bandwidth.map(([arrayId, bytes]) => `${[...r.sources, ...r.targets].find((a) => a.id === arrayId)?.name ?? arrayId}: ${formatRate(bytes)}`).join(', ') : 'none'}</dd>
          <dt className="text-muted-foreground">Window</dt>
          <dd>{r.window ? `${r.window.start}–${r.window.end} (${r.window.timeZone})` : 'none'}</dd>
        </dl>
      </section>

      <section aria-labelledby="report-checks" className="space-y-2">
        <h2 id="report-checks" className="text-base font-semibold">
          Decommission checks
        </h2>
        <ul className="space-y-1">
          {r.checks.map((c) => (
            <li key={c.name}>
              <span className="font-medium">{c.ok === true ? 'PASS' : c.ok === false ? 'FAIL' : 'CANNOT CONFIRM'}</span> · {c.name} — {c.detail}
            </li>
          ))}
        </ul>
        <p className="font-medium">{r.checks.length > 0 && r.checks.every((c) => c.ok === true) ? `${sourceNames}: safe to decommission.` : `${sourceNames}: not safe to decommission.`}</p>
        <h3 className="pt-2 font-semibold">Exclusions</h3>
        {r.exclusions.length ? (
          <ul className="list-disc pl-5">
            {r.exclusions.map((x) => (
              <li key={x.volume}>
                {x.volume}: {x.reason}
              </li>
            ))}
          </ul>
        ) : (
          <p>None.</p>
        )}
      </section>

      <section aria-labelledby="report-volumes" className="space-y-2">
        <h2 id="report-volumes" className="text-base font-semibold">
          Volumes ({r.volumes.length})
        </h2>
        <table className="w-full border-collapse text-xs">
          <thead>
            <tr className="border-b text-left">
              {['Host', 'Disk group', 'Volume', 'Size', 'Source array / LUN', 'Target array / LUN', 'Strategy', 'Copy start', 'Cutover', 'Pause', 'Committed', 'Bytes copied', 'Verification'].map((h) => (
                <th key={h} className="px-1 py-1 font-medium">
                  {h}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {r.volumes.map((v) => (
              <tr key={`${v.host}/${v.diskGroup}/${v.volume}`} className="border-b align-top" data-testid="report-volume">
                <td className="px-1 py-1">{v.host}</td>
                <td className="px-1 py-1">{v.diskGroup}</td>
                <td className="px-1 py-1 font-medium">{v.volume}</td>
                <td className="px-1 py-1 tabular-nums">{formatBytes(v.sizeBytes)}</td>
                <td className="px-1 py-1">
                  {v.sourceArray} / <span className="font-mono">{v.sourceLun}</span>
                </td>
                <td className="px-1 py-1">
                  {v.targetArray} / <span className="font-mono">{v.targetLun ?? '—'}</span>
                </td>
                <td className="px-1 py-1">{v.strategy === 'precopy' ? 'Pre-copy' : v.strategy === 'mirror' ? 'Mirror' : v.strategy}</td>
                <td className="px-1 py-1">{when(v.copyStartedAt)}</td>
                <td className="px-1 py-1">{when(v.cutoverAt)}</td>
                <td className="px-1 py-1 tabular-nums">{v.cutoverPauseMs === null ? '—' : formatLatency(v.cutoverPauseMs)}</td>
                <td className="px-1 py-1">{when(v.committedAt)}</td>
                <td className="px-1 py-1 tabular-nums">{v.bytesCopied === null ? '—' : formatBytes(v.bytesCopied)}</td>
                <td className="px-1 py-1">{v.verification}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <footer className="border-t pt-2 text-xs text-muted-foreground">Generated {formatAbsoluteLong(new Date())} by Tern.</footer>
    </article>
  );
}
