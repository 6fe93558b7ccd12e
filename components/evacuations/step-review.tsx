'use client';
/**
 * Wizard step 5, Review (docs/ui.md §3.10): the dry-run plan as it would start. A banner blocks while
 * any volume cannot move; totals, the predicted burndown (the live page's chart, from the plan
 * alone), peak load per target, what cannot move with Check again and, for admins, Exclude; the
 * acknowledgements to tick; the plan table and its CSV.
 */
import { CircleX } from 'lucide-react';
import { useState } from 'react';
import { BurndownChart } from '@/components/charts/burndown-chart';
import { formatBytes, formatCount, formatDuration, formatRate, formatTimeOfDay } from '@/components/format';
import { Alert } from '@/components/ui/alert';
import { Button } from '@/components/ui/button';
import { Skeleton } from '@/components/ui/skeleton';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useNow } from '@/components/use-now';
import { confirmPhrase, type Step } from './draft';
import { downloadText, planCsv } from './csv';
import { ackKey, durationRange, type WizardModel } from './wizard-model';

const PAGE = 100;

export function StepReview({ model, onGo }: { model: WizardModel; onGo: (step: Step) => void }) {
  const { plan, draft, update } = model;
  const now = useNow();
  const [startedAt] = useState(() => Date.now());
  const [limit, setLimit] = useState(PAGE);
  if (!plan) return model.planError ? <p className="text-sm text-red-700 dark:text-red-400">The dry run failed: {model.planError}</p> : <Skeleton className="h-64" />;

  const from = now || startedAt;
  const names = new Map(model.arrays.map((a) => [a.id, a.name]));
  const blocking = plan.cannotMove.filter((c) => c.code !== 'excluded');
  const excluded = plan.cannotMove.filter((c) => c.code === 'excluded');
  const acks = plan.warnings.filter((w) => w.needsAcknowledgement);
  const targets = plan.targets.filter((t) => t.incomingVolumes > 0);
  const isAdmin = model.role === 'admin';
  const windowText = draft.window ? `${draft.window.start}–${draft.window.end} (${draft.window.timeZone})` : '';
  const predictedPoints = plan.prediction.burndown.map((p) => ({ t: from + p.t * 1000, leftBytes: p.leftBytes }));
  const finishAt = { p10: from + plan.prediction.seconds.p10 * 1000, p50: from + plan.prediction.seconds.p50 * 1000, p90: from + plan.prediction.seconds.p90 * 1000 };
  const toggleAck = (key: string, on: boolean) => update({ acks: on ? [...draft.acks, key] : draft.acks.filter((a) => a !== key) });

  return (
    <div className="space-y-5">
      {blocking.length ? (
        <Alert tone="danger" role="alert" title={`Blocked: ${formatCount(blocking.length, 'volume')} cannot move. Resolve ${blocking.length === 1 ? 'it' : 'them'} below to continue.`} />
      ) : null}

      <div id="review-plan" tabIndex={-1} className="space-y-1 text-sm">
        <p>
          <span className="font-medium">
            {plan.moves.length} of {formatCount(plan.totals.plexes, 'volume plex', 'volume plexes')}
          </span>{' '}
          · {formatBytes(plan.totals.movableBytes)} of {formatBytes(plan.totals.bytes)} · {formatCount(plan.totals.hosts, 'host')} → {targets.map((t) => t.name).join(', ') || '—'}
        </p>
        <p>
          Predicted {durationRange(plan.prediction.seconds)} · finishes {formatTimeOfDay(finishAt.p10)}–{formatTimeOfDay(finishAt.p90)} if started now
          {draft.window ? `, starts and cutovers only inside ${windowText}` : ''}
        </p>
      </div>

      <BurndownChart sourceName={confirmPhrase(draft.sources)} predicted={{ points: predictedPoints, finishAt }} window={draft.window} now={from} startAt={from} height={200} />

      <section aria-labelledby="peak-load" className="space-y-1">
        <h3 id="peak-load" className="text-sm font-semibold">
          Peak load per target
        </h3>
        <ul className="flex flex-wrap gap-x-6 gap-y-1 text-sm tabular-nums">
          {targets.map((t) => (
            <li key={t.arrayId}>
              <span className="font-medium">{t.name}</span> {formatCount(t.peakJobs, 'job')} / {formatRate(t.peakBytesPerS)}
            </li>
          ))}
        </ul>
        {plan.prediction.bottleneck ? <p className="text-xs text-muted-foreground">{plan.prediction.bottleneck} is the bottleneck.</p> : null}
      </section>

      <section aria-labelledby="cannot-move" id="cannot-move" tabIndex={-1} className="space-y-1">
        <h3 id="cannot-move-title" className="text-sm font-semibold">
          Cannot move ({blocking.length})
        </h3>
        {blocking.length === 0 ? (
          <p className="text-sm text-muted-foreground">Every volume on {draft.sources.join(', ')} has a place.</p>
        ) : (
          <ul className="divide-y rounded-md border text-sm" data-testid="cannot-move">
            {blocking.map((c) => (
              <li key={c.key} className="flex flex-wrap items-center gap-x-4 gap-y-1 px-3 py-2">
                <CircleX aria-hidden className="size-4 text-red-600" />
                <span className="font-medium">
                  {c.hostname}/{c.nbdExport}
                </span>
                <span className="tabular-nums">{formatBytes(c.sizeBytes)}</span>
                <span className="flex-1 text-red-700 dark:text-red-400">{c.reason}</span>
                <Button size="xs" variant="outline" onClick={model.replan}>
                  Check again
                </Button>
                <span title={isAdmin ? undefined : 'Requires admin role'}>
                  <Button
                    size="xs"
                    variant="outline"
                    aria-disabled={isAdmin ? undefined : true}
                    onClick={() => {
                      if (isAdmin) update({ excludedVolumeIds: [...new Set([...draft.excludedVolumeIds, c.volumeId])] });
                    }}
                  >
                    Exclude{isAdmin ? '' : ' (admin)'}
                  </Button>
                </span>
              </li>
            ))}
          </ul>
        )}
        {excluded.length ? (
          <div className="space-y-1 pt-2">
            <p className="text-sm">
              Excluded by you ({excluded.length}): the evacuation will be partial, and {draft.sources.join(', ')} will not become Evacuated while they remain.
            </p>
            <ul className="text-sm">
              {excluded.map((c) => (
                <li key={c.key} className="flex items-center gap-3">
                  <span>
                    {c.hostname}/{c.nbdExport}
                  </span>
                  <span className="text-muted-foreground">{formatBytes(c.sizeBytes)}</span>
                  <Button size="xs" variant="link" onClick={() => update({ excludedVolumeIds: draft.excludedVolumeIds.filter((id) => id !== c.volumeId) })}>
                    Include again
                  </Button>
                </li>
              ))}
            </ul>
          </div>
        ) : null}
      </section>

      {acks.length ? (
        <section aria-labelledby="acks-title" id="acknowledgements" tabIndex={-1} className="space-y-1">
          <h3 id="acks-title" className="text-sm font-semibold">
            Please acknowledge
          </h3>
          {acks.map((w) => {
            const key = ackKey(w);
            return (
              <label key={key} className="flex items-start gap-2 text-sm">
                <input type="checkbox" className="mt-1" checked={draft.acks.includes(key)} onChange={(event) => toggleAck(key, event.target.checked)} />
                <span>{w.message}</span>
              </label>
            );
          })}
        </section>
      ) : null}

      <section aria-labelledby="plan-table" className="space-y-2">
        <div className="flex items-center gap-3">
          <h3 id="plan-table" className="text-sm font-semibold">
            Plan ({plan.moves.length})
          </h3>
          <Button size="sm" variant="outline" className="ml-auto" onClick={() => downloadText(`evacuation-plan-${draft.sources.join('-')}.csv`, planCsv(plan, names, windowText))}>
            Download CSV
          </Button>
          <Button size="sm" variant="ghost" onClick={() => onGo('targets')}>
            Change placement
          </Button>
        </div>
        <div className="rounded-md border">
          <Table>
            <TableHeader>
              <TableRow className="hover:bg-transparent">
                <TableHead className="pl-3">Volume</TableHead>
                <TableHead className="text-right">Size</TableHead>
                <TableHead>From LUN</TableHead>
                <TableHead>To</TableHead>
                <TableHead>Strategy</TableHead>
                <TableHead>Why</TableHead>
                <TableHead className="text-right">Est. time</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {plan.moves.slice(0, limit).map((m) => (
                <TableRow key={m.key} data-testid="plan-row" data-volume={`${m.hostname}/${m.nbdExport}`}>
                  <TableCell className="pl-3">
                    <span className="text-muted-foreground">{m.hostname}/</span>
                    <span className="font-medium">{m.nbdExport}</span>
                  </TableCell>
                  <TableCell className="text-right tabular-nums">{formatBytes(m.sizeBytes)}</TableCell>
                  <TableCell className="max-w-40 truncate font-mono text-xs" title={m.sourceLunName}>
                    {m.sourceLunName}
                  </TableCell>
                  <TableCell>{names.get(m.targetArrayId) ?? m.targetArrayId}</TableCell>
                  <TableCell>
                    {m.strategy === 'precopy' ? 'Pre-copy' : 'Mirror'}
                    {draft.strategy === 'auto' ? <span className="text-muted-foreground"> (auto)</span> : null}
                  </TableCell>
                  <TableCell className="max-w-72 text-xs text-muted-foreground">{m.strategyReason}</TableCell>
                  <TableCell className="text-right whitespace-nowrap tabular-nums">
                    {formatDuration(m.predictedSeconds.p50 * 1000)}–{formatDuration(m.predictedSeconds.p90 * 1000)}
                  </TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          {plan.moves.length > limit ? (
            <div className="border-t px-3 py-2 text-center">
              <Button size="sm" variant="outline" onClick={() => setLimit(limit + PAGE)}>
                Show more
              </Button>
            </div>
          ) : null}
        </div>
      </section>
    </div>
  );
}
