'use client';
/**
 * Settings → API tokens (docs/ui.md §3.13, README "Automation"): admins list, create and revoke the
 * bearer tokens that scripts and the `tern` command use. The secret comes back once, from
 * `tokens.create`, and lives only in this component's state until the dialog that shows it closes.
 */
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Ban, CircleCheck, Clock, KeyRound, Plus, type LucideIcon } from 'lucide-react';
import { useEffect, useId, useRef, useState, type ReactNode } from 'react';
import type { RouterOutputs } from '@/components/api-types';
import { CommandBlock } from '@/components/command-block';
import { EmptyState, QueryError, TableSkeleton } from '@/components/data/query-states';
import { RelativeTime } from '@/components/relative-time';
import { RoleBadge, roleLabel } from '@/components/shell/role-badge';
import { Alert } from '@/components/ui/alert';
import { Badge, type BadgeTone } from '@/components/ui/badge';
import { Button } from '@/components/ui/button';
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from '@/components/ui/card';
import { ConfirmDialog } from '@/components/ui/confirm-dialog';
import { Input, Label } from '@/components/ui/input';
import { Select } from '@/components/ui/select';
import { Spinner } from '@/components/ui/spinner';
import { Table, TableBody, TableCell, TableHead, TableHeader, TableRow } from '@/components/ui/table';
import { useTRPC } from '@/components/trpc';
import { useNow } from '@/components/use-now';
import { emptyTokenForm, exampleCommand, TOKEN_ROLES, tokenFromForm, tokenState, type TokenForm, type TokenFormErrors, type TokenState } from './api-tokens-form';

type ApiToken = RouterOutputs['tokens']['list'][number];
type CreatedToken = RouterOutputs['tokens']['create'];

const STATES: Record<TokenState, { label: string; tone: BadgeTone; icon: LucideIcon; meaning: string }> = {
  active: { label: 'Active', tone: 'success', icon: CircleCheck, meaning: 'accepted until it expires' },
  revoked: { label: 'Revoked', tone: 'neutral', icon: Ban, meaning: 'refused on every request' },
  expired: { label: 'Expired', tone: 'warning', icon: Clock, meaning: 'past its lifetime; refused on every request' },
};

const ROLE_HELP = 'What the token may do; never more than its creator can do at the time of use.';

export function ApiTokensTab() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const me = useQuery(trpc.auth.me.queryOptions());
  const isAdmin = me.data?.role === 'admin';
  const tokens = useQuery(trpc.tokens.list.queryOptions(undefined, { enabled: isAdmin }));
  const revoke = useMutation(trpc.tokens.revoke.mutationOptions());
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [revoking, setRevoking] = useState<ApiToken | null>(null);
  const now = useNow();

  if (me.error) return <QueryError error={me.error} onRetry={() => me.refetch()} what="who you are" />;
  if (me.data && !isAdmin) {
    return (
      <Alert tone="info">
        <p>API tokens are for administrators: your role ({roleLabel(me.data.role)}) cannot list or create them. Ask an administrator for a token for your script.</p>
      </Alert>
    );
  }

  const confirmRevoke = async () => {
    if (!revoking) return;
    await revoke.mutateAsync({ id: revoking.id }).then(
      async (row) => {
        // The row shows Revoked at once; the refetch brings anything else that changed.
        queryClient.setQueryData(trpc.tokens.list.queryKey(), (rows) => rows?.map((token) => (token.id === row.id ? row : token)));
        await queryClient.invalidateQueries(trpc.tokens.list.queryFilter());
      },
      () => undefined,
    );
  };

  const openCreate = () => {
    setCreating(true);
    setCreated(null);
  };
  const rows = tokens.data ?? [];

  return (
    <div className="space-y-4">
      {revoke.error ? (
        <Alert tone="danger" role="alert" title="The token was not revoked">
          <p>{revoke.error.message}</p>
        </Alert>
      ) : null}

      {creating ? (
        <CreateTokenForm
          onCancel={() => setCreating(false)}
          onCreated={async (token) => {
            setCreating(false);
            setCreated(token);
            await queryClient.invalidateQueries(trpc.tokens.list.queryFilter());
          }}
        />
      ) : null}

      <Card>
        <CardHeader>
          <div>
            <CardTitle>API tokens</CardTitle>
            <CardDescription>
              For scripts, schedulers and the <code className="font-mono text-xs">tern</code> command: sent as <code className="font-mono text-xs">Authorization: Bearer tern_…</code> instead of signing in. A
              token acts as the admin who made it, with its own role.
            </CardDescription>
          </div>
          {rows.length && !creating ? (
            <Button size="sm" onClick={openCreate}>
              <Plus aria-hidden />
              Create token
            </Button>
          ) : null}
        </CardHeader>
        <CardContent>
          {tokens.error ? (
            <QueryError error={tokens.error} onRetry={() => tokens.refetch()} what="the API tokens" />
          ) : !tokens.data ? (
            <TableSkeleton columns={7} label="Loading the API tokens" />
          ) : !rows.length ? (
            <EmptyState
              icon={KeyRound}
              title="No API tokens yet"
              actions={
                creating ? null : (
                  <Button size="sm" onClick={openCreate}>
                    <Plus aria-hidden />
                    Create token
                  </Button>
                )
              }
            >
              <p>A token lets a script or the tern command call the console without a password, with the role you give it, until it expires or you revoke it.</p>
            </EmptyState>
          ) : (
            <Table>
              <TableHeader>
                <TableRow>
                  <TableHead>Name</TableHead>
                  <TableHead>Role</TableHead>
                  <TableHead>Created</TableHead>
                  <TableHead>Expires</TableHead>
                  <TableHead>Last used</TableHead>
                  <TableHead>State</TableHead>
                  <TableHead>
                    <span className="sr-only">Actions</span>
                  </TableHead>
                </TableRow>
              </TableHeader>
              <TableBody>
                {rows.map((token) => {
                  // Before the clock starts (server render) `now` is 0 and unrevoked tokens read as active for a moment.
                  const state = tokenState(token, now);
                  const look = STATES[state];
                  return (
                    <TableRow key={token.id} data-state={state}>
                      <TableCell>
                        <div className="font-medium">{token.name}</div>
                        <div className="font-mono text-xs text-muted-foreground" title="The first characters, to tell tokens apart">
                          {token.prefix}…
                        </div>
                      </TableCell>
                      <TableCell>
                        <RoleBadge role={token.role} />
                      </TableCell>
                      <TableCell>
                        <div>{token.createdBy}</div>
                        <RelativeTime value={token.createdAt} className="text-xs text-muted-foreground" />
                      </TableCell>
                      <TableCell>
                        <RelativeTime value={token.expiresAt} />
                      </TableCell>
                      <TableCell>
                        <RelativeTime value={token.lastUsedAt} />
                      </TableCell>
                      <TableCell>
                        <Badge tone={look.tone} title={`${look.label}: ${look.meaning}`}>
                          <look.icon aria-hidden />
                          {look.label}
                        </Badge>
                      </TableCell>
                      <TableCell className="text-right">
                        <Button
                          size="xs"
                          variant="outline"
                          aria-label={`Revoke ${token.name}`}
                          disabled={state !== 'active'}
                          title={state === 'active' ? undefined : `Already ${look.label.toLowerCase()}: it authenticates nobody.`}
                          onClick={() => {
                            revoke.reset();
                            setRevoking(token);
                          }}
                        >
                          Revoke
                        </Button>
                      </TableCell>
                    </TableRow>
                  );
                })}
              </TableBody>
            </Table>
          )}
        </CardContent>
      </Card>

      <ConfirmDialog open={revoking !== null} title={`Revoke the API token “${revoking?.name ?? ''}”?`} confirm="Revoke token" keep="Keep token" onClose={() => setRevoking(null)} onConfirm={confirmRevoke}>
        {revoking ? (
          <p>
            Whatever uses <span className="font-medium">{revoking.name}</span> (<span className="font-mono text-xs">{revoking.prefix}…</span>, {roleLabel(revoking.role)}) is refused from its next request. A
            revoked token cannot be restored: create a new one to replace it.
          </p>
        ) : null}
      </ConfirmDialog>

      <SecretDialog token={created} onClose={() => setCreated(null)} />
    </div>
  );
}

function CreateTokenForm({ onCancel, onCreated }: { onCancel: () => void; onCreated: (token: CreatedToken) => Promise<void> }) {
  const trpc = useTRPC();
  const create = useMutation(trpc.tokens.create.mutationOptions());
  const [form, setForm] = useState<TokenForm>(emptyTokenForm);
  const [errors, setErrors] = useState<TokenFormErrors>({});
  const id = useId();
  const titleId = `${id}-title`;

  const edit = (change: Partial<TokenForm>) => {
    const next = { ...form, ...change };
    setForm(next);
    // Once a field has a message, it follows the typing; fields not yet wrong stay quiet.
    if (Object.keys(errors).length) {
      const result = tokenFromForm(next);
      setErrors(result.ok ? {} : result.errors);
    }
  };

  const submit = async () => {
    const result = tokenFromForm(form);
    setErrors(result.ok ? {} : result.errors);
    if (!result.ok) return;
    await create.mutateAsync(result.input).then(onCreated, () => undefined);
  };

  return (
    <Card aria-labelledby={titleId}>
      <CardHeader>
        <div>
          <CardTitle id={titleId}>Create an API token</CardTitle>
          <CardDescription>The token is shown once, when it is created.</CardDescription>
        </div>
      </CardHeader>
      <CardContent>
        <form
          noValidate
          className="space-y-4"
          onSubmit={(event) => {
            event.preventDefault();
            void submit();
          }}
        >
          {create.error ? (
            <Alert tone="danger" role="alert" title="The token was not created">
              <p>{create.error.message}</p>
            </Alert>
          ) : null}
          <div className="grid gap-4 sm:grid-cols-[2fr_1fr_1fr]">
            <Field id={`${id}-name`} label="Name" help="After what will use it, e.g. nightly-report." error={errors.name}>
              <Input id={`${id}-name`} autoFocus autoComplete="off" maxLength={64} value={form.name} aria-invalid={errors.name ? true : undefined} aria-describedby={`${id}-name-help`} onChange={(event) => edit({ name: event.target.value })} />
            </Field>
            <Field id={`${id}-role`} label="Role" help={ROLE_HELP} error={errors.role}>
              <Select id={`${id}-role`} className="w-full" value={form.role} aria-describedby={`${id}-role-help`} onChange={(event) => edit({ role: event.target.value as TokenForm['role'] })}>
                {TOKEN_ROLES.map((role) => (
                  <option key={role} value={role}>
                    {roleLabel(role)}
                  </option>
                ))}
              </Select>
            </Field>
            <Field id={`${id}-ttl`} label="Lifetime (days)" help="1 to 366 days." error={errors.ttlDays}>
              <Input id={`${id}-ttl`} inputMode="numeric" value={form.ttlDays} aria-invalid={errors.ttlDays ? true : undefined} aria-describedby={`${id}-ttl-help`} onChange={(event) => edit({ ttlDays: event.target.value })} />
            </Field>
          </div>
          <div className="flex justify-end gap-2">
            <Button variant="outline" size="sm" onClick={onCancel}>
              Cancel
            </Button>
            <Button type="submit" size="sm" disabled={create.isPending}>
              {create.isPending ? <Spinner /> : null}
              Create token
            </Button>
          </div>
        </form>
      </CardContent>
    </Card>
  );
}

function Field({ id, label, help, error, children }: { id: string; label: string; help: string; error?: string; children: ReactNode }) {
  return (
    <div className="space-y-1.5">
      <Label htmlFor={id}>{label}</Label>
      {children}
      <p id={`${id}-help`} className={error ? 'text-xs text-red-700 dark:text-red-400' : 'text-xs text-muted-foreground'}>
        {error ?? help}
      </p>
    </div>
  );
}

/**
 * The new secret, once: copy it now or make another token. Closing forgets it. Its content renders
 * only after a create in the browser, so reading `window` here never meets the server render.
 */
function SecretDialog({ token, onClose }: { token: CreatedToken | null; onClose: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    if (token && !element.open) element.showModal();
    if (!token && element.open) element.close();
  }, [token]);
  return (
    <dialog
      ref={ref}
      aria-labelledby={titleId}
      onClose={onClose}
      className="m-auto w-[36rem] max-w-[calc(100vw-2rem)] rounded-lg border bg-card p-0 text-card-foreground shadow-xl backdrop:bg-black/40"
    >
      {token ? (
        <div className="space-y-4 p-5 text-sm">
          <h2 id={titleId} className="text-base font-semibold">
            API token “{token.name}” created
          </h2>
          <Alert tone="warning">
            <p>Copy the token now: it will not be shown again. The console keeps only its hash.</p>
          </Alert>
          <div className="space-y-1">
            <p className="font-medium">Token</p>
            <CommandBlock label="API token" command={token.token} />
          </div>
          <div className="space-y-1">
            <p className="font-medium">Try it</p>
            <CommandBlock label="example command" command={exampleCommand(token.token, window.location.origin)} />
          </div>
          <p className="text-muted-foreground">
            {roleLabel(token.role)} role, expires <RelativeTime value={token.expiresAt} />.
          </p>
          <div className="flex justify-end">
            <Button size="sm" onClick={() => ref.current?.close()}>
              Done
            </Button>
          </div>
        </div>
      ) : null}
    </dialog>
  );
}
