'use client';
/**
 * The Settings page (docs/ui.md §3.13). Built so far: the Limits tab — concurrency per the cost model
 * and a bandwidth budget per array (MiB/s on screen, bytes/s in the API). Admins edit; others
 * read with a notice. Unsaved changes show a sticky Save bar; saving asks once, naming the running
 * evacuations that pick the change up, and leaving with unsaved changes asks first. The API
 * tokens tab (admins only) is in api-tokens.tsx.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useSearchParams } from 'next/navigation';
import { useEffect, useId, useState } from 'react';
import type { RouterOutputs } from '@/components/api-types';
import { QueryError } from '@/components/data/query-states';
import { formatRate, formatTier } from '@/components/format';
import { PageHeader } from '@/components/page-header';
import { roleLabel } from '@/components/shell/role-badge';
import { Alert } from '@/components/ui/alert';
import { Button } from '@/components/ui/button';
import { ConfirmDialog } from '@/components/ui/confirm-dialog';
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from '@/components/ui/card';
import { Input, Label } from '@/components/ui/input';
import { Skeleton } from '@/components/ui/skeleton';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { UrlTabList, type TabItem } from '@/components/ui/tabs';
import { useTRPC } from '@/components/trpc';
import { ApiTokensTab } from './api-tokens';
import { CONCURRENCY_FIELDS, formFromLimits, limitsFromForm, sameForm, type ConcurrencyField, type LimitsErrors, type LimitsForm } from './limits-form';

type Pickup = RouterOutputs['settings']['get']['evacuations'][number];

const FIELDS: Record<ConcurrencyField, { label: string; help: string }> = {
  global: { label: 'Global', help: 'Migrations that may run at once across the fleet.' },
  perHost: { label: 'Per host', help: 'Migrations one host may run at once (vSphere allows 2).' },
  perSourceArray: { label: 'Per source array', help: 'Migrations reading from one array at once.' },
  perTargetArray: { label: 'Per target array', help: 'Migrations writing to one array at once (vSphere allows 8 per datastore).' },
};

export function SettingsPage() {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions());
  const requested = useSearchParams().get('tab');
  const tab: SettingsTab = requested === 'api-tokens' ? 'api-tokens' : 'limits';
  // Only admins have API tokens; the tab stays while it is open, where a non-admin is told why.
  const tabs: TabItem<SettingsTab>[] = [{ value: 'limits', label: 'Limits' }];
  if (me.data?.role === 'admin' || tab === 'api-tokens') tabs.push({ value: 'api-tokens', label: 'API tokens' });
  return (
    <div className="space-y-4">
      <PageHeader title="Settings" description="Console-wide settings. Every change is recorded in Events with who made it." />
      <UrlTabList tabs={tabs} value={tab} label="Settings sections" idPrefix="settings" />
      <div id="settings-panel" role="tabpanel" aria-labelledby={`settings-tab-${tab}`}>
        {tab === 'api-tokens' ? <ApiTokensTab /> : <LimitsTab />}
      </div>
    </div>
  );
}

type SettingsTab = 'limits' | 'api-tokens';

function LimitsTab() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const me = useQuery(trpc.auth.me.queryOptions());
  const settings = useQuery(trpc.settings.get.queryOptions());
  const arrays = useQuery(trpc.arrays.list.queryOptions());
  const save = useMutation(trpc.settings.setLimits.mutationOptions());
  const [form, setForm] = useState<LimitsForm | null>(null);
  const [errors, setErrors] = useState<LimitsErrors>({});
  const [confirming, setConfirming] = useState(false);
  const [saved, setSaved] = useState<Pickup[] | null>(null);

  const savedForm = settings.data ? formFromLimits(settings.data.limits) : null;
  const current = form ?? savedForm;
  const dirty = Boolean(form && savedForm && !sameForm(form, savedForm));
  const isAdmin = me.data?.role === 'admin';

  useEffect(() => {
    if (!dirty) return;
    const onBeforeUnload = (event: BeforeUnloadEvent) => event.preventDefault();
    window.addEventListener('beforeunload', onBeforeUnload);
    return () => window.removeEventListener('beforeunload', onBeforeUnload);
  }, [dirty]);

  if (settings.error) return <QueryError error={settings.error} onRetry={() => settings.refetch()} what="the limits" />;
  if (!current || !settings.data) return <LimitsSkeleton />;

  const edit = (change: (draft: LimitsForm) => LimitsForm) => {
    setSaved(null);
    setForm(change(current));
  };
  const requestSave = () => {
    const result = limitsFromForm(current);
    setErrors(result.ok ? {} : result.errors);
    if (result.ok) setConfirming(true);
  };
  const confirmSave = async () => {
    const result = limitsFromForm(current);
    if (!result.ok) return;
    await save.mutateAsync(result.limits).then(
      async (response) => {
        setConfirming(false);
        setSaved(response.evacuations);
        setForm(null);
        await queryClient.invalidateQueries(trpc.settings.get.queryFilter());
      },
      () => setConfirming(false),
    );
  };
  const readOnly = !isAdmin;

  return (
    <div className="space-y-4 pb-16">
      {me.data && readOnly ? (
        <Alert tone="info">
          <p>Your role ({roleLabel(me.data.role)}) can read these limits; an administrator changes them.</p>
        </Alert>
      ) : null}
      {save.error ? (
        <Alert tone="danger" role="alert" title="The limits were not saved">
          <p>{save.error.message}</p>
        </Alert>
      ) : null}
      {saved ? (
        <Alert tone="info" role="status" title="Limits saved">
          <PickupText evacuations={saved} done />
        </Alert>
      ) : null}

      <Card>
        <CardHeader>
          <div>
            <CardTitle>Concurrency</CardTitle>
            <CardDescription>How many migrations the scheduler admits at once. An evacuation may set its own values, which override these for its migrations.</CardDescription>
          </div>
        </CardHeader>
        <CardContent className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
          {CONCURRENCY_FIELDS.map((field) => (
            <NumberField
              key={field}
              label={FIELDS[field].label}
              help={FIELDS[field].help}
              value={current.concurrency[field]}
              error={errors[field]}
              readOnly={readOnly}
              onChange={(value) => edit((draft) => ({ ...draft, concurrency: { ...draft.concurrency, [field]: value } }))}
            />
          ))}
        </CardContent>
      </Card>

      <Card>
        <CardHeader>
          <div>
            <CardTitle>Bandwidth budget per array</CardTitle>
            <CardDescription>Read from a source array, write to a target array, shared fairly by the migrations on it. Empty means no budget.</CardDescription>
          </div>
        </CardHeader>
        <CardContent>
          {arrays.error ? (
            <QueryError error={arrays.error} onRetry={() => arrays.refetch()} what="the arrays" />
          ) : (
            <Table>
              <TableHeader>
                <TableRow>
                  <TableHead>Array</TableHead>
                  <TableHead>Tier</TableHead>
                  <TableHead>Budget now</TableHead>
                  <TableHead className="w-48">Budget (MiB/s)</TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {(arrays.data ?? []).map((array) => {
                  const budget = settings.data.limits.arrayBandwidthBytesPerS[array.id];
                  const error = errors[`bandwidth.${array.id}`];
                  return (
                    <TableRow key={array.id}>
                      <TableCell className="font-medium">{array.name}</TableCell>
                      <TableCell>{formatTier(array.tier)}</TableCell>
                      <TableCell className="text-muted-foreground">{budget === undefined ? 'None' : formatRate(budget)}</TableCell>
                      <TableCell>
                        <Input
                          inputMode="decimal"
                          aria-label={`Bandwidth budget for ${array.name} in MiB/s`}
                          aria-invalid={error ? true : undefined}
                          placeholder="No budget"
                          readOnly={readOnly}
                          value={current.bandwidthMiB[array.id] ?? ''}
                          onChange={(event) => edit((draft) => ({ ...draft, bandwidthMiB: { ...draft.bandwidthMiB, [array.id]: event.target.value } }))}
                        />
                        {error ? <p className="mt-1 text-xs text-red-700 dark:text-red-400">{error}</p> : null}
                      </TableCell>
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          )}
        </CardContent>
      </Card>

      {dirty && isAdmin ? (
        <div className="sticky bottom-0 z-10 -mx-1 flex items-center justify-end gap-2 rounded-lg border bg-card px-4 py-2 shadow-lg" role="region" aria-label="Unsaved changes">
          <span className="mr-auto text-sm">Unsaved changes</span>
          <Button
            variant="outline"
            size="sm"
            onClick={() => {
              setForm(null);
              setErrors({});
            }}
          >
            Discard
          </Button>
          <Button size="sm" onClick={requestSave}>
            Save
          </Button>
        </div>
      ) : null}

      <ConfirmDialog open={confirming} tone="default" title="Save the new limits?" confirm="Save limits" keep="Keep editing" onClose={() => setConfirming(false)} onConfirm={confirmSave}>
        <PickupText evacuations={settings.data.evacuations} />
      </ConfirmDialog>
    </div>
  );
}

function NumberField({ label, help, value, error, readOnly, onChange }: { label: string; help: string; value: string; error?: string; readOnly: boolean; onChange: (value: string) => void }) {
  const id = useId();
  return (
    <div className="space-y-1.5">
      <Label htmlFor={id}>{label}</Label>
      <Input
        id={id}
        inputMode="numeric"
        value={value}
        readOnly={readOnly}
        aria-invalid={error ? true : undefined}
        aria-describedby={`${id}-help`}
        onChange={(event) => onChange(event.target.value)}
      />
      <p id={`${id}-help`} className={error ? 'text-xs text-red-700 dark:text-red-400' : 'text-xs text-muted-foreground'}>
        {error ?? help}
      </p>
    </div>
  );
}

/** Which running evacuations pick up a change of limits, and which fields each keeps as its own. */
function PickupText({ evacuations, done = false }: { evacuations: Pickup[]; done?: boolean }) {
  if (!evacuations.length) return <p>No evacuation is running; {done ? 'the' : 'these'} limits apply to running and new migrations from the next engine tick.</p>;
  return (
    <div className="space-y-1">
      <p>{done ? 'Running work picks up the change at the next engine tick (about a second):' : 'Running work picks up the change at the next engine tick:'}</p>
      <ul className="list-disc pl-5">
        {evacuations.map((evacuation) => (
          <li key={evacuation.id}>
            Evacuation of {evacuation.sources.join(', ')} ({evacuation.state})
            {evacuation.overridden.length ? ` — keeps its own ${evacuation.overridden.join(', ')}` : ''}
          </li>
        ))}
      </ul>
    </div>
  );
}

function LimitsSkeleton() {
  return (
    <div role="status" aria-label="Loading the limits" className="space-y-4">
      <Card className="grid gap-4 p-4 sm:grid-cols-2 lg:grid-cols-4">
        {CONCURRENCY_FIELDS.map((field) => (
          <div key={field} className="space-y-2">
            <Skeleton className="h-4 w-24" />
            <Skeleton className="h-9 w-full" />
          </div>
        ))}
      </Card>
      <Card className="space-y-2 p-4">
        <Skeleton className="h-4 w-48" />
        <Skeleton className="h-9 w-full" />
        <Skeleton className="h-9 w-full" />
      </Card>
    </div>
  );
}
