'use client';
/**
 * Wizard step 3, Targets and placement (docs/ui.md §3.10): which arrays may receive volumes, with
 * reachability and capacity now → after; then where each volume goes, with the planner's reason,
 * a per-row choice among the selected targets, bulk moves, and "changed by you" marks. A hand
 * choice the planner could not keep is flagged red with its reason.
 */
import { TriangleExclamationPoint } from 'lucide-react';
import { useState } from 'react';
import { CapacityBar } from '@/components/capacity-bar';
import { formatBytes, formatCount, formatPercent, formatTier } from '@/components/format';
import { StateBadge } from '@/components/state-badge';
import { Badge } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Input, Label } from '@/components/ui/input';
import { Select } from '@/components/ui/select';
import { Skeleton } from '@/components/ui/skeleton';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { cn } from '@/components/ui/cn';
import { Radio } from './wizard-parts';
import { selectedTargetNames, type WizardModel } from './wizard-model';

/** Above these shares used after the plan a target turns amber, then red (docs/ui.md §3.10). */
const AMBER_AFTER = 0.85;
const RED_AFTER = 0.95;
const PAGE = 100;

export function StepTargets({ model }: { model: WizardModel }) {
  const { plan, draft, update, arrays } = model;
  const [q, setQ] = useState('');
  const [show, setShow] = useState<'all' | 'changed' | 'unplaced'>('all');
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [limit, setLimit] = useState(PAGE);
  if (!plan) return model.planError ? <p className="text-sm text-red-700 dark:text-red-400">The dry run failed: {model.planError}</p> : <Skeleton className="h-64" />;

  const chosen = selectedTargetNames(model);
  const eligibleNames = plan.targets.filter((t) => t.eligible).map((t) => t.name);
  const candidates = arrays.filter((a) => !draft.sources.includes(a.name));
  const setTarget = (name: string, on: boolean) => {
    const current = draft.targets ?? eligibleNames;
    const next = on ? [...new Set([...current, name])] : current.filter((n) => n !== name);
    update({ targets: next });
  };
  const nameOf = (id: string) => model.arrayById.get(id)?.name ?? id;
  const choosable = plan.targets.filter((t) => t.eligible && chosen.includes(t.name));

  const unplaced = plan.cannotMove.filter((c) => c.code !== 'excluded');
  const matches = (text: string) => !q || text.toLowerCase().includes(q.toLowerCase());
  const moves = plan.moves.filter((m) => matches(`${m.hostname}/${m.nbdExport}`) && (show === 'all' || (show === 'changed' && (m.changedByUser || draft.overrides[m.key]))));
  const unplacedShown = show === 'changed' ? [] : unplaced.filter((c) => matches(`${c.hostname}/${c.nbdExport}`));
  const rows = show === 'unplaced' ? [] : moves.slice(0, limit);

  const moveSelected = (arrayId: string) => {
    const overrides = { ...draft.overrides };
    for (const key of selected) overrides[key] = arrayId;
    update({ overrides });
    setSelected(new Set());
  };

  return (
    <div className="space-y-6">
      <section aria-labelledby="targets-title" className="space-y-2">
        <div className="flex flex-wrap items-end justify-between gap-3">
          <h3 id="targets-title" className="text-sm font-semibold">
            Target arrays
          </h3>
          <div role="radiogroup" aria-label="Placement" className="flex gap-4">
            <Radio name="placement" value="balance" checked={draft.placement === 'balance'} onChange={() => update({ placement: 'balance' })} label="Balance utilization" />
            <Radio name="placement" value="in-order" checked={draft.placement === 'in-order'} onChange={() => update({ placement: 'in-order' })} label="In order" />
          </div>
        </div>
        <div id="target-list" tabIndex={-1} role="group" aria-label="Target arrays" className="divide-y rounded-md border">
          {candidates.map((array) => {
            const t = plan.targets.find((target) => target.arrayId === array.id);
            const eligible = Boolean(t?.eligible);
            const checked = eligible && chosen.includes(array.name);
            const reason = t ? t.reason : 'not offered by the planner';
            const after = t && t.capacityBytes > 0 ? t.usedBytesAfter / t.capacityBytes : 0;
            const reasonId = `target-${array.id}-reason`;
            return (
              <label key={array.id} data-testid={`target-${array.name}`} data-eligible={eligible} className={cn('flex flex-wrap items-center gap-x-4 gap-y-1 px-3 py-2.5 text-sm', eligible ? 'cursor-pointer hover:bg-accent/40' : 'cursor-not-allowed text-muted-foreground')}>
                <input type="checkbox" checked={checked} disabled={!eligible} onChange={(event) => setTarget(array.name, event.target.checked)} aria-label={`Use ${array.name} as a target`} aria-describedby={reason ? reasonId : undefined} />
                <span className="font-medium text-foreground">{array.name}</span>
                <span className="text-xs">{formatTier(array.tier)}</span>
                {array.state !== 'online' ? <StateBadge type="array" state={array.state} /> : null}
                {t && eligible ? (
                  <>
                    <span className="text-xs tabular-nums">free {formatBytes(Math.max(0, t.capacityBytes - t.usedBytesBefore))}</span>
                    <span className="text-xs tabular-nums">
                      reachable from {t.reachableHosts}/{t.affectedHosts} hosts
                    </span>
                    <span className="flex items-center gap-2 text-xs tabular-nums">
                      <CapacityBar usedBytes={t.usedBytesBefore} totalBytes={t.capacityBytes} label={`${array.name} capacity now`} showText={false} />
                      <span className={cn(after > RED_AFTER ? 'font-medium text-red-700 dark:text-red-400' : after > AMBER_AFTER ? 'text-amber-700 dark:text-amber-400' : '')}>
                        {formatPercent(t.usedBytesBefore, t.capacityBytes)} → {formatPercent(t.usedBytesAfter, t.capacityBytes)} after
                        {after > AMBER_AFTER ? <TriangleExclamationPoint aria-label="nearly full after the plan" className="ml-1 inline size-3.5" /> : null}
                      </span>
                      {t.incomingVolumes ? <span className="text-muted-foreground">+{formatCount(t.incomingVolumes, 'volume')}</span> : null}
                    </span>
                  </>
                ) : (
                  <span id={reasonId} className="text-xs">
                    {reason}
                  </span>
                )}
              </label>
            );
          })}
        </div>
        <p className="flex flex-wrap items-center gap-x-4 gap-y-1 text-xs text-muted-foreground">
          <span>Rules: never both plexes of a mirrored volume on one array (always on)</span>
          <label className="flex items-center gap-1 text-foreground">
            <input type="checkbox" checked={draft.allowLowerTier} onChange={(event) => update({ allowLowerTier: event.target.checked })} /> Allow lower tiers
          </label>
        </p>
      </section>

      <section aria-labelledby="placement-title" className="space-y-2">
        <div className="flex flex-wrap items-center gap-3">
          <h3 id="placement-title" className="text-sm font-semibold">
            Placement of {formatCount(plan.moves.length + unplaced.length, 'volume')}
          </h3>
          <Label htmlFor="placement-search" className="sr-only">
            Search placements
          </Label>
          <Input id="placement-search" placeholder="Search" className="h-8 w-48" value={q} onChange={(event) => setQ(event.target.value)} />
          <div role="radiogroup" aria-label="Show" className="flex gap-3">
            <Radio name="placement-show" value="all" checked={show === 'all'} onChange={() => setShow('all')} label="All" />
            <Radio name="placement-show" value="changed" checked={show === 'changed'} onChange={() => setShow('changed')} label="Changed by you" />
            <Radio name="placement-show" value="unplaced" checked={show === 'unplaced'} onChange={() => setShow('unplaced')} label={`Unplaced (${unplaced.length})`} />
          </div>
          <Button size="sm" variant="ghost" className="ml-auto" disabled={Object.keys(draft.overrides).length === 0} onClick={() => update({ overrides: {} })}>
            Reset to automatic placement
          </Button>
        </div>
        <div className="rounded-md border">
          <Table>
            <TableHeader>
              <TableRow className="hover:bg-transparent">
                <TableHead className="w-8 pl-3">
                  <span className="sr-only">Select</span>
                </TableHead>
                <TableHead>Volume</TableHead>
                <TableHead className="text-right">Size</TableHead>
                <TableHead>Target</TableHead>
                <TableHead>Why</TableHead>
              </TableRow>
            </TableHeader>
            <TableBody>
              {rows.map((m) => {
                const wanted = draft.overrides[m.key];
                const dropped = wanted !== undefined && wanted !== m.targetArrayId;
                const options = choosable.some((t) => t.arrayId === m.targetArrayId) ? choosable : [...choosable, { arrayId: m.targetArrayId, name: nameOf(m.targetArrayId) }];
                return (
                  <TableRow key={m.key} data-testid="placement-row" data-volume={`${m.hostname}/${m.nbdExport}`} data-target={nameOf(m.targetArrayId)}>
                    <TableCell className="pl-3">
                      <input
                        type="checkbox"
                        aria-label={`Select ${m.hostname}/${m.nbdExport}`}
                        checked={selected.has(m.key)}
                        onChange={(event) => {
                          const next = new Set(selected);
                          if (event.target.checked) next.add(m.key);
                          else next.delete(m.key);
                          setSelected(next);
                        }}
                      />
                    </TableCell>
                    <TableCell>
                      <span className="text-muted-foreground">{m.hostname}/</span>
                      <span className="font-medium">{m.nbdExport}</span>
                    </TableCell>
                    <TableCell className="text-right tabular-nums">{formatBytes(m.sizeBytes)}</TableCell>
                    <TableCell>
                      <div className="flex items-center gap-2">
                        <Select
                          aria-label={`Target for ${m.hostname}/${m.nbdExport}`}
                          value={m.targetArrayId}
                          onChange={(event) => update({ overrides: { ...draft.overrides, [m.key]: event.target.value } })}
                          className="w-28"
                        >
                          {options.map((t) => (
                            <option key={t.arrayId} value={t.arrayId}>
                              {t.name}
                            </option>
                          ))}
                        </Select>
                        {m.changedByUser || (wanted !== undefined && !dropped) ? <Badge tone="attention">changed by you</Badge> : null}
                      </div>
                    </TableCell>
                    <TableCell className={cn('max-w-96 text-xs', dropped ? 'text-red-700 dark:text-red-400' : 'text-muted-foreground')}>
                      {dropped ? `Your choice ${nameOf(wanted)} was not kept: ` : null}
                      {m.placementReason}
                    </TableCell>
                  </TableRow>
                );
              })}
              {unplacedShown.map((c) => (
                <TableRow key={c.key} data-testid="placement-row" data-volume={`${c.hostname}/${c.nbdExport}`} data-target="">
                  <TableCell className="pl-3" />
                  <TableCell>
                    <span className="text-muted-foreground">{c.hostname}/</span>
                    <span className="font-medium">{c.nbdExport}</span>
                  </TableCell>
                  <TableCell className="text-right tabular-nums">{formatBytes(c.sizeBytes)}</TableCell>
                  <TableCell className="text-muted-foreground">— unplaced —</TableCell>
                  <TableCell className="text-xs text-red-700 dark:text-red-400">{c.reason}</TableCell>
                </TableRow>
              ))}
            </TableBody>
          </Table>
          {show !== 'unplaced' && moves.length > limit ? (
            <div className="border-t px-3 py-2 text-center">
              <Button size="sm" variant="outline" onClick={() => setLimit(limit + PAGE)}>
                Show {Math.min(PAGE, moves.length - limit)} more of {moves.length - limit}
              </Button>
            </div>
          ) : null}
        </div>
        <div className="flex items-center gap-2 text-sm">
          <span className="text-muted-foreground">Selected: {selected.size}</span>
          <Select
            aria-label="Move selected to"
            value=""
            disabled={selected.size === 0}
            onChange={(event) => {
              if (event.target.value) moveSelected(event.target.value);
            }}
            className="w-44"
          >
            <option value="">Move selected to…</option>
            {choosable.map((t) => (
              <option key={t.arrayId} value={t.arrayId}>
                {t.name}
              </option>
            ))}
          </Select>
        </div>
        <p className="text-xs text-muted-foreground">Each volume may go only to a selected target its host reaches, with room and an allowed tier; the planner re-checks every hand choice. Unplaced volumes block in Review.</p>
      </section>
    </div>
  );
}
