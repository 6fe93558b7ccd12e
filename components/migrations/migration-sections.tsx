/**
 * The lower sections of the migration detail (docs/ui.md §3.9.5): the passes table of a pre-copy
 * (with the running pass live and the predicted ones), the resync card of a mirror, and the
 * details list.
 */
import { formatAbsoluteLong, formatBytes, formatDuration, formatInteger, formatLatency, formatPercent, formatRate } from '@/components/format';
import { IdText } from '@/components/id-text';
import { Card } from '@/components/ui/card';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import type { MigrationDetail, MigrationPass, MigrationSample } from './types';

export function PassesTable({ migration: m, leftBytes }: { migration: MigrationDetail; leftBytes: number | null }) {
  const passes = m.passes;
  const prediction = m.prediction;
  const regionSize = formatBytes(m.regionSizeBytes);
  return (
    <Card>
      <h2 className="border-b px-4 py-2 text-sm font-semibold">Passes</h2>
      {passes.length === 0 ? (
        <p className="px-4 py-3 text-sm text-muted-foreground">No pass has started yet.</p>
      ) : (
        <Table>
          <TableHeader>
            <TableRow className="hover:bg-transparent">
              <TableHead className="pl-4">#</TableHead>
              <TableHead className="text-right">To copy</TableHead>
              <TableHead className="text-right">Took</TableHead>
              <TableHead className="text-right">Copy rate</TableHead>
              <TableHead className="text-right">Writes</TableHead>
              <TableHead>Re-dirtied during pass</TableHead>
              <TableHead className="pr-4">Result</TableHead>
            </TableRow>
          </TableHeader>
          <TableBody>
            {passes.map((p, i) => (
              <TableRow key={p.pass} data-running={p.running || undefined}>
                <TableCell className="pl-4 tabular-nums">{p.pass}</TableCell>
                <TableCell className="text-right tabular-nums">{formatBytes(p.bytesAtStart)}</TableCell>
                <TableCell className="text-right tabular-nums">{p.running ? 'running' : p.endedAt ? formatDuration(Date.parse(p.endedAt) - Date.parse(p.startedAt)) : '—'}</TableCell>
                <TableCell className="text-right tabular-nums">{p.avgCopyRateBytesPerS === null ? '—' : formatRate(p.avgCopyRateBytesPerS)}</TableCell>
                <TableCell className="text-right tabular-nums">{p.avgWriteRateBytesPerS === null ? '—' : formatRate(p.avgWriteRateBytesPerS)}</TableCell>
                <TableCell className="tabular-nums">
                  {p.redirtiedBytes === null ? (p.running && leftBytes !== null ? `${formatBytes(leftBytes)} left now` : '…') : `${formatBytes(p.redirtiedBytes)} (${formatInteger(p.redirtiedRegions ?? 0)} regions, ${regionSize})`}
                </TableCell>
                <TableCell className="pr-4">{resultOf(p, passes[i + 1], m)}</TableCell>
              </TableRow>
            ))}
            {prediction.condition === 'converging' && prediction.nextPasses.length + (prediction.switchBytes === null ? 0 : 1) > 0 ? (
              <TableRow className="text-muted-foreground hover:bg-transparent">
                <TableCell className="pl-4" colSpan={7}>
                  {prediction.nextPasses.length ? `${prediction.nextPasses[0]!.pass}${prediction.nextPasses.length > 1 ? `–${prediction.nextPasses.at(-1)!.pass}` : ''} predicted: ` : 'Predicted: '}
                  {prediction.nextPasses.map((n) => `~${formatBytes(n.bytes)}`).join(', ')}
                  {prediction.switchBytes !== null ? `${prediction.nextPasses.length ? '; then ' : ''}switch with ~${formatBytes(prediction.switchBytes)} left${prediction.switchPauseMs !== null ? ` (~${formatLatency(prediction.switchPauseMs)} pause)` : ''}` : ''}
                </TableCell>
              </TableRow>
            ) : null}
          </TableBody>
        </Table>
      )}
    </Card>
  );
}

function resultOf(p: MigrationPass, next: MigrationPass | undefined, m: MigrationDetail): string {
  if (p.running) return '…';
  if (!next) return m.switched ? 'switch' : '—';
  if (p.pass === 0) return `${formatBytes(next.bytesAtStart)} re-dirtied`;
  if (next.bytesAtStart > p.bytesAtStart) return '▲ grew';
  if (next.bytesAtStart === 0) return 'all copied';
  return `shrank ×${(p.bytesAtStart / next.bytesAtStart).toFixed(1)}`;
}

export function ResyncCard({ migration: m, newest }: { migration: MigrationDetail; newest: MigrationSample | null }) {
  const first = m.passes[0];
  const left = newest?.leftBytes ?? m.dirtyBytes;
  return (
    <Card className="px-4 py-3">
      <h2 className="mb-2 text-sm font-semibold">Resync</h2>
      <dl className="grid grid-cols-2 gap-x-6 gap-y-1 text-sm sm:grid-cols-4">
        <Item label="Started">{first ? formatAbsoluteLong(Date.parse(first.startedAt)) : '—'}</Item>
        <Item label="Volume">{formatBytes(m.volumeSizeBytes)}</Item>
        <Item label="In sync">
          {formatBytes(Math.max(0, m.volumeSizeBytes - left))} ({formatPercent(Math.max(0, m.volumeSizeBytes - left), m.volumeSizeBytes)})
        </Item>
        <Item label="Copy rate (mean)">{first?.avgCopyRateBytesPerS != null ? formatRate(first.avgCopyRateBytesPerS) : '—'}</Item>
        <Item label="Dual-write p99 now">{newest?.writeLatencyP99Us != null ? formatLatency(newest.writeLatencyP99Us / 1000) : '—'}</Item>
        <Item label="App writes (mean)">{first?.avgWriteRateBytesPerS != null ? formatRate(first.avgWriteRateBytesPerS) : '—'}</Item>
      </dl>
    </Card>
  );
}

export function MigrationDetails({ migration: m }: { migration: MigrationDetail }) {
  const policy = m.cutoverPolicy as { mode?: string; commit?: string };
  return (
    <Card className="px-4 py-3">
      <h2 className="mb-2 text-sm font-semibold">Details</h2>
      <dl className="grid grid-cols-1 gap-x-6 gap-y-1.5 text-sm md:grid-cols-2">
        <Item label="Source LUN">
          {m.sourceArrayName ?? '—'} · {m.sourceLun ? <IdText value={m.sourceLun.wwn} label="source LUN WWN" /> : (m.sourceLunName ?? 'released')}
        </Item>
        <Item label="Target LUN">
          {m.targetArrayName} · {m.targetLun ? <IdText value={m.targetLun.wwn} label="target LUN WWN" /> : 'not created yet'}
        </Item>
        <Item label="Strategy">
          {m.strategy === 'precopy' ? 'Pre-copy' : 'Mirror'}
          {m.originalStrategy !== m.strategy ? ' — switched from pre-copy by the non-convergence policy' : ''}
        </Item>
        <Item label="Throttle">{m.throttleBytesPerS === null ? 'no limit' : formatRate(m.throttleBytesPerS)}</Item>
        <Item label="Cutover">{policy.mode === 'manual' ? 'manual (waits for Cut over now)' : 'automatic when converged'}</Item>
        <Item label="Commit">{policy.commit === 'manual' ? 'manual (waits for Commit)' : 'automatic after verification'}</Item>
        <Item label="Pause budget">{formatLatency(m.pauseBudgetMs)}</Item>
        <Item label="Non-convergence policy">switch to mirror after 3 passes that do not shrink</Item>
        <Item label="Verification">
          full checksum of every region
          {m.verify ? ` — ${m.verify.ok ? 'match' : `${m.verify.mismatchedRegions.length} regions differ`} at ${formatAbsoluteLong(Date.parse(m.verify.finishedAt))}` : ''}
        </Item>
        <Item label="Agent">
          {m.agentPhase ?? 'no report yet'}
          {m.restarts ? ` · ${m.restarts} restart${m.restarts === 1 ? '' : 's'}` : ''}
          {m.agentUnreachableSince ? ` · unreachable since ${formatAbsoluteLong(m.agentUnreachableSince)}` : ''}
        </Item>
        <Item label="Engine lease">{m.leaseOwner ?? 'none'}</Item>
        <Item label="Created">
          {formatAbsoluteLong(m.createdAt)} by {m.createdBy}
        </Item>
        <Item label="Migration id">
          <IdText value={m.id} label="migration id" />
        </Item>
      </dl>
    </Card>
  );
}

function Item({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div className="flex min-w-0 gap-2">
      <dt className="shrink-0 text-muted-foreground">{label}</dt>
      <dd className="min-w-0">{children}</dd>
    </div>
  );
}
