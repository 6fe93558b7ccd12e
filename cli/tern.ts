/**
 * The `tern` command: the console's own tRPC API over HTTP with an API token, for scripts and
 * terminals. Human tables by default, `--json` for machines. Exit codes: 0 done, 1 the console
 * refused (its message is printed) or could not be reached, 2 the command line is wrong.
 * Imports are relative and type-only towards the server, so it runs from any folder.
 */
import { parseArgs } from 'node:util';
import { createTRPCClient, httpLink, TRPCClientError } from '@trpc/client';
import superjson from 'superjson';
import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '../server/api/root';
import { formatBytes, formatCount, formatDuration, formatRate, formatRelative } from '../components/format';

type Outputs = inferRouterOutputs<AppRouter>;
type Client = ReturnType<typeof makeClient>;

export const USAGE = `Usage: tern <command> [options]

Commands:
  arrays                                   arrays with state, tier and capacity
  hosts                                    hosts with agent state and last heartbeat
  migrations [--state S[,S…]] [--limit N]  migrations, newest first
  evacuations                              evacuations, newest first
  evacuate plan ARRAY[,ARRAY…] [--targets A,B] [--strategy auto|precopy|mirror]
                                           dry run: what moves where, what cannot, how long
  evacuate start ARRAY[,ARRAY…] --yes [--targets A,B] [--strategy …] [--cutover auto|manual] [--commit auto|manual]
                                           approve and start the evacuation
  evacuation watch ID                      a progress line a second until it ends
  evacuation pause|resume|cancel|rollback-all ID
  evacuation commit-all ID --yes           commit every verified volume (releases the sources)
  tokens                                   API tokens (admin)
  token create NAME --role viewer|operator|admin [--days N] --user USER
                                           sign in as USER (password from $TERN_PASSWORD or stdin)
                                           and create a token; prints it once
  token revoke ID                          revoke a token at once (admin)

Options:
  --json       print the console's answer as JSON (watch: one object per line)
  --url URL    the console (default: $TERN_URL, else http://127.0.0.1:3000)
  --token T    an API token (default: $TERN_TOKEN); create one in Settings → API tokens
  -h, --help   this text

Exit codes: 0 done, 1 refused by the console (or unreachable), 2 wrong usage.`;

class UsageError extends Error {}

const ENDED = new Set(['completed', 'completed-with-exclusions', 'cancelled', 'failed']);

function makeClient(url: string, token: string) {
  return createTRPCClient<AppRouter>({
    links: [httpLink({ url: `${url.replace(/\/+$/, '')}/api/trpc`, transformer: superjson, headers: { authorization: `Bearer ${token}` } })],
  });
}

/** Left-aligned columns, two spaces apart, header in capitals. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers.map((h) => h.toUpperCase()), ...rows.map((row) => row.map(String))];
  const widths = headers.map((_, column) => Math.max(...cells.map((row) => (row[column] ?? '').length)));
  return cells.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ')).join('\n');
}

interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  sleep: (ms: number) => Promise<void>;
}

const list = (value: string | undefined) => (value ? value.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

async function arrayIds(client: Client, names: string[]) {
  const arrays = await client.arrays.list.query();
  return names.map((name) => {
    const found = arrays.find((array) => array.name === name || array.id === name);
    if (!found) throw new UsageError(`no array named ${name}; known: ${arrays.map((array) => array.name).join(', ') || 'none'}`);
    return found;
  });
}

async function constraintsFor(client: Client, sourceArg: string | undefined, values: Record<string, string | boolean | undefined>) {
  const sourceNames = list(sourceArg);
  if (!sourceNames?.length) throw new UsageError('name the array to evacuate, e.g. tern evacuate plan ARR-03');
  const strategy = values.strategy as string | undefined;
  if (strategy && !['auto', 'precopy', 'mirror'].includes(strategy)) throw new UsageError(`--strategy is auto, precopy or mirror, not ${strategy}`);
  const sources = await arrayIds(client, sourceNames);
  const targetNames = list(values.targets as string | undefined);
  const targets = targetNames ? await arrayIds(client, targetNames) : null;
  return {
    sources,
    constraints: {
      sourceArrayIds: sources.map((a) => a.id),
      targetArrayIds: targets ? targets.map((a) => a.id) : null,
      ...(strategy ? { strategy: strategy as 'auto' | 'precopy' | 'mirror' } : {}),
    },
  };
}

function printPlan(io: Io, plan: Outputs['evacuations']['plan']) {
  const target = (id: string) => plan.targets.find((t) => t.arrayId === id)?.name ?? id;
  io.out(`Evacuate ${plan.sources.map((s) => s.name).join(', ')}: ${formatCount(plan.totals.volumes, 'volume')} on ${formatCount(plan.totals.hosts, 'host')}, ${formatBytes(plan.totals.bytes)}`);
  if (plan.moves.length) {
    io.out('');
    io.out(table(['volume', 'host', 'size', 'to', 'strategy'], plan.moves.map((m) => [m.nbdExport, m.hostname, formatBytes(m.sizeBytes), target(m.targetArrayId), m.strategy])));
  }
  if (plan.cannotMove.length) {
    io.out('');
    io.out('Cannot move:');
    for (const c of plan.cannotMove) io.out(`  ${c.nbdExport} on ${c.hostname}: ${c.reason}`);
  }
  for (const w of plan.warnings) io.out(`${w.severity === 'warning' ? 'Warning' : 'Note'}: ${w.message}`);
  const s = plan.prediction.seconds;
  io.out('');
  io.out(`Predicted: ${formatDuration(s.p50 * 1000)} (${formatDuration(s.p10 * 1000)} to ${formatDuration(s.p90 * 1000)}); limited by ${plan.prediction.bottleneck}`);
  io.out(plan.blocked ? 'Blocked: fix what cannot move (or have an admin exclude it) before starting.' : 'Start it with: tern evacuate start ' + plan.sources.map((x) => x.name).join(',') + ' --yes');
}

type Evacuation = Outputs['evacuations']['get'];

export function progressLine(evacuation: Pick<Evacuation, 'state' | 'rollup'>, now = new Date()): string {
  const r = evacuation.rollup;
  const switched = (['cutting-over', 'verifying', 'verified', 'committing', 'completed'] as const).reduce((sum, state) => sum + (r.byState[state] ?? 0), 0);
  const eta = r.predictedFinishAt && !ENDED.has(evacuation.state) ? ` · ETA ${formatDuration(Math.max(0, r.predictedFinishAt.p50 - now.getTime()))}` : '';
  return `${now.toISOString().slice(11, 19)} ${evacuation.state} · ${switched}/${r.volumes} switched · ${formatBytes(r.leftOnSourceBytes)} left on source · ${formatBytes(r.leftToCopyBytes)} to copy · ${formatRate(r.rateBytesPerS)}${eta}`;
}

function printOutcome(io: Io, verb: string, result: Outputs['evacuations']['pause']) {
  const acted = Object.entries(result.outcome.acted).map(([action, n]) => `${n} ${action}`).join(', ') || 'none';
  io.out(`${verb} evacuation ${result.id}: now ${result.state}; acted on ${acted}; ${result.outcome.untouched} untouched; ${result.outcome.failed.length} failed`);
  for (const f of result.outcome.failed) io.out(`  ${f.volume}: ${f.reason}`);
}

/** Runs one command line; returns the exit code. `io` is injectable so tests can read the output. */
export async function run(argv: string[], env: Record<string, string | undefined> = process.env, terminal: Io = defaultIo): Promise<number> {
  // The console's formatting uses no-break spaces and a true minus; a terminal wants plain ones.
  const io: Io = { ...terminal, out: (text) => terminal.out(text.replace(/\u00a0/g, ' ').replace(/\u2212/g, '-')) };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        yes: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        url: { type: 'string' },
        token: { type: 'string' },
        state: { type: 'string' },
        limit: { type: 'string' },
        targets: { type: 'string' },
        strategy: { type: 'string' },
        cutover: { type: 'string' },
        commit: { type: 'string' },
        'interval-ms': { type: 'string' },
        role: { type: 'string' },
        days: { type: 'string' },
        user: { type: 'string' },
      },
    });
  } catch (error) {
    io.err(`tern: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 2;
  }
  const url = values.url ?? env.TERN_URL ?? 'http://127.0.0.1:3000';
  const [command, sub, arg] = positionals;
  if (command === 'token' && sub === 'create') {
    try {
      return await createToken(io, url, arg, values, env);
    } catch (error) {
      return reportError(io, url, error);
    }
  }
  const token = values.token ?? env.TERN_TOKEN;
  if (!token) {
    io.err('tern: no API token: set TERN_TOKEN (or pass --token); an admin creates one in Settings → API tokens');
    return 2;
  }
  const client = makeClient(url, token);
  const print = (value: unknown) => io.out(JSON.stringify(value, null, 2));
  try {
    switch (`${command} ${command === 'evacuate' || command === 'evacuation' || command === 'token' ? sub : ''}`.trim()) {
      case 'arrays': {
        const arrays = await client.arrays.list.query();
        if (values.json) print(arrays);
        else io.out(table(['name', 'state', 'tier', 'capacity', 'free', 'luns', 'hosts'], arrays.map((a) => [a.name, a.state, a.tier, formatBytes(a.capacityBytes), formatBytes(a.freeBytes), a.lunCount, a.hostCount])));
        return 0;
      }
      case 'hosts': {
        // Every host, a page of 100 at a time (the console pages hosts.list).
        const hosts: Outputs['hosts']['list']['hosts'] = [];
        for (let page = 1; ; page++) {
          const result = await client.hosts.list.query({ page, pageSize: 100 });
          hosts.push(...result.hosts);
          if (result.hosts.length === 0 || page * result.pageSize >= result.total) break;
        }
        if (values.json) print(hosts);
        else
          io.out(
            table(
              ['hostname', 'state', 'volumes', 'arrays', 'heartbeat'],
              hosts.map((h) => [h.hostname, h.state, h.volumeCount, h.arrays.map((a) => a.name).join(',') || '-', h.lastHeartbeatAt ? formatRelative(h.lastHeartbeatAt) : 'never']),
            ),
          );
        return 0;
      }
      case 'migrations': {
        const limit = values.limit ? Number(values.limit) : 200;
        if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError(`--limit is a whole number from 1 to 500, not ${values.limit}`);
        const states = list(values.state) as Outputs['migrations']['list'][number]['state'][] | undefined;
        const migrations = await client.migrations.list.query({ states, limit });
        if (values.json) print(migrations);
        else
          io.out(
            table(
              ['id', 'host', 'volume', 'from', 'to', 'state', 'pass', 'copied', 'rate'],
              migrations.map((m) => [m.id, m.hostname, `${m.diskGroupName}/${m.volumeName}`, m.sourceArrayName ?? '-', m.targetArrayName, m.state, m.pass, formatBytes(m.bytesCopied), m.copyRateBytesPerS ? formatRate(m.copyRateBytesPerS) : '-']),
            ),
          );
        return 0;
      }
      case 'evacuations': {
        const evacuations = await client.evacuations.list.query();
        if (values.json) print(evacuations);
        else io.out(table(['id', 'sources', 'state', 'volumes', 'left on source'], evacuations.map((e) => [e.id, e.sources.map((s) => s.name).join(','), e.state, e.rollup.volumes, formatBytes(e.rollup.leftOnSourceBytes)])));
        return 0;
      }
      case 'evacuate plan': {
        const { constraints } = await constraintsFor(client, arg, values);
        const plan = await client.evacuations.plan.query({ constraints });
        if (values.json) print(plan);
        else printPlan(io, plan);
        return 0;
      }
      case 'evacuate start': {
        const { sources, constraints } = await constraintsFor(client, arg, values);
        for (const [option, value] of [['cutover', values.cutover], ['commit', values.commit]] as const) {
          if (value && value !== 'auto' && value !== 'manual') throw new UsageError(`--${option} is auto or manual, not ${value}`);
        }
        if (!values.yes) throw new UsageError(`starting moves every volume off ${sources.map((s) => s.name).join(', ')}: add --yes to confirm (see the plan first with tern evacuate plan ${arg})`);
        // The console asks for the same phrase as the wizard's typed confirmation.
        const confirm = sources.length > 1 ? `${sources[0]?.name} +${sources.length - 1}` : (sources[0]?.name ?? '');
        const created = await client.evacuations.create.mutate({
          constraints,
          window: null,
          outsideWindow: 'keep-copying',
          cutover: (values.cutover as 'auto' | 'manual' | undefined) ?? 'auto',
          commit: (values.commit as 'auto' | 'manual' | undefined) ?? 'auto',
          confirm,
        });
        if (values.json) print(created);
        else io.out(`evacuation ${created.id} started; follow it with: tern evacuation watch ${created.id}`);
        return 0;
      }
      case 'evacuation watch': {
        if (!arg) throw new UsageError('name the evacuation: tern evacuation watch ID');
        const intervalMs = Number(values['interval-ms'] ?? 1000);
        for (;;) {
          const evacuation = await client.evacuations.get.query({ id: arg });
          if (values.json) io.out(JSON.stringify({ id: evacuation.id, state: evacuation.state, rollup: evacuation.rollup, at: new Date().toISOString() }));
          else io.out(progressLine(evacuation));
          if (ENDED.has(evacuation.state)) return evacuation.state.startsWith('completed') ? 0 : 1;
          await io.sleep(intervalMs);
        }
      }
      case 'evacuation pause':
      case 'evacuation resume':
      case 'evacuation cancel':
      case 'evacuation rollback-all':
      case 'evacuation commit-all': {
        if (!arg) throw new UsageError(`name the evacuation: tern evacuation ${sub} ID`);
        let result: Outputs['evacuations']['pause'];
        if (sub === 'commit-all') {
          if (!values.yes) throw new UsageError('committing releases and deletes the source LUNs of every verified volume: add --yes to confirm');
          const evacuation = await client.evacuations.get.query({ id: arg });
          const names = evacuation.sources.map((s) => s.name);
          result = await client.evacuations.commitAll.mutate({ id: arg, confirm: names.length > 1 ? `${names[0]} +${names.length - 1}` : (names[0] ?? '') });
        } else if (sub === 'rollback-all') result = await client.evacuations.rollbackAll.mutate({ id: arg });
        else result = await client.evacuations[sub as 'pause' | 'resume' | 'cancel'].mutate({ id: arg });
        if (values.json) print(result);
        else printOutcome(io, { pause: 'paused', resume: 'resumed', cancel: 'cancelled', 'rollback-all': 'rolling back', 'commit-all': 'committed' }[sub ?? ''] ?? sub ?? '', result);
        return 0;
      }
      case 'tokens': {
        const tokens = await client.tokens.list.query();
        if (values.json) print(tokens);
        else
          io.out(
            table(
              ['id', 'name', 'prefix', 'role', 'expires', 'last used', 'revoked'],
              tokens.map((t) => [t.id, t.name, `${t.prefix}…`, t.role, t.expiresAt.toISOString().slice(0, 10), t.lastUsedAt ? formatRelative(t.lastUsedAt) : 'never', t.revokedAt ? 'yes' : 'no']),
            ),
          );
        return 0;
      }
      case 'token revoke': {
        if (!arg) throw new UsageError('name the token: tern token revoke ID (ids are in tern tokens)');
        const revoked = await client.tokens.revoke.mutate({ id: arg });
        if (values.json) print(revoked);
        else io.out(`revoked API token "${revoked.name}" (${revoked.prefix}…)`);
        return 0;
      }
      default:
        throw new UsageError(`unknown command "${positionals.join(' ')}"`);
    }
  } catch (error) {
    return reportError(io, url, error);
  }
}

/**
 * `token create`: tokens are minted from a signed-in session, never with another token, so this
 * signs in with a username and password first and signs out after.
 */
async function createToken(io: Io, url: string, name: string | undefined, values: Record<string, string | boolean | undefined>, env: Record<string, string | undefined>) {
  const role = values.role as string | undefined;
  if (!name) throw new UsageError('name the token after what will use it: tern token create NAME --role viewer --user admin');
  if (role !== 'viewer' && role !== 'operator' && role !== 'admin') throw new UsageError(`--role is viewer, operator or admin${role ? `, not ${role}` : ''}`);
  const ttlDays = values.days === undefined ? 90 : Number(values.days);
  if (!Number.isInteger(ttlDays)) throw new UsageError(`--days is a whole number of days, not ${String(values.days)}`);
  const username = values.user as string | undefined;
  if (!username) throw new UsageError('--user names the admin to sign in as');
  const password = env.TERN_PASSWORD ?? (await readLine());
  if (!password) throw new UsageError(`no password for ${username}: set TERN_PASSWORD or pipe it on stdin`);
  const signIn = await fetch(`${url.replace(/\/+$/, '')}/api/trpc/auth.signIn`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(superjson.serialize({ username, password })),
  });
  if (!signIn.ok) {
    const body = (await signIn.json().catch(() => null)) as { error?: { message?: string } } | null;
    io.err(`tern: sign-in refused (${signIn.status}): ${body?.error?.message ?? signIn.statusText}`);
    return 1;
  }
  const cookie = signIn.headers.get('set-cookie')?.split(';')[0] ?? '';
  const session = createTRPCClient<AppRouter>({ links: [httpLink({ url: `${url.replace(/\/+$/, '')}/api/trpc`, transformer: superjson, headers: { cookie } })] });
  try {
    const created = await session.tokens.create.mutate({ name, role, ttlDays });
    if (values.json) io.out(JSON.stringify(created, null, 2));
    else {
      io.out(created.token);
      io.err(`API token "${created.name}" (${created.role}) valid until ${created.expiresAt.toISOString()}; it is shown only now: store it as TERN_TOKEN`);
    }
    return 0;
  } finally {
    await session.auth.signOut.mutate().catch(() => undefined);
  }
}

async function readLine(): Promise<string | undefined> {
  if (process.stdin.isTTY) process.stderr.write('password: ');
  for await (const line of (await import('node:readline')).createInterface({ input: process.stdin })) return line;
  return undefined;
}

function reportError(io: Io, url: string, error: unknown): number {
  if (error instanceof UsageError) {
    io.err(`tern: ${error.message}`);
    return 2;
  }
  if (error instanceof TypeError && error.message === 'fetch failed') {
    io.err(`tern: cannot reach the console at ${url}: ${(error.cause as Error | undefined)?.message ?? error.message}`);
    return 1;
  }
  if (error instanceof TRPCClientError) {
    const data = error.data as { code?: string; zodError?: { fieldErrors?: Record<string, string[]>; formErrors?: string[] } | null } | undefined;
    if (!data) {
      io.err(`tern: cannot reach the console at ${url}: ${error.cause?.message ?? error.message}`);
      return 1;
    }
    const fields = data.zodError ? [...(data.zodError.formErrors ?? []), ...Object.entries(data.zodError.fieldErrors ?? {}).map(([field, messages]) => `${field}: ${messages.join(', ')}`)] : [];
    const hint = data.code === 'UNAUTHORIZED' ? ' (the token is unknown, revoked or expired: check TERN_TOKEN)' : '';
    io.err(`tern: refused (${data.code ?? 'error'}): ${fields.length ? fields.join('; ') : error.message}${hint}`);
    return 1;
  }
  throw error;
}

const defaultIo: Io = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
