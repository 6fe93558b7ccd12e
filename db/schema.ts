/**
 * Tern's domain model (docs/architecture.md), one pg-core schema for PGlite and PostgreSQL.
 * Sizes and rates are bytes and bytes per second; `bigint` columns use number mode, which is
 * exact up to 8 PiB and keeps arithmetic simple everywhere else.
 */
import {
  bigint,
  bigserial,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

const bytes = (name: string) => bigint(name, { mode: 'number' });
const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });
const createdAt = () => at('created_at').notNull().defaultNow();

export const userRole = pgEnum('user_role', ['viewer', 'operator', 'admin']);
export const arrayState = pgEnum('array_state', ['online', 'degraded', 'evacuating', 'evacuated', 'offline']);
export const lunState = pgEnum('lun_state', ['online', 'offline', 'deleting']);
export const hostState = pgEnum('host_state', ['pending', 'connected', 'disconnected', 'fenced']);
export const plexState = pgEnum('plex_state', ['active', 'syncing', 'stale', 'detached']);
export const migrationStrategy = pgEnum('migration_strategy', ['mirror', 'precopy']);
export const migrationState = pgEnum('migration_state', [
  'planned',
  'queued',
  'preparing',
  'syncing',
  'copying',
  'ready',
  'cutting-over',
  'verifying',
  'verified',
  'committing',
  'completed',
  'paused',
  'failed',
  'cancelled',
  'rolled-back',
]);
export const evacuationState = pgEnum('evacuation_state', [
  'planned',
  'running',
  'paused',
  'completed',
  'completed-with-exclusions',
  'cancelled',
  'failed',
]);
export const eventSeverity = pgEnum('event_severity', ['info', 'warning', 'error']);
export const actorKind = pgEnum('actor_kind', ['user', 'agent', 'system']);

export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  username: text('username').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  role: userRole('role').notNull(),
  disabled: boolean('disabled').notNull().default(false),
  createdAt: createdAt(),
  lastSignInAt: at('last_sign_in_at'),
});

/** A session row is keyed by the SHA-256 of the cookie's token, so a leaked table grants nothing. */
export const sessions = pgTable(
  'sessions',
  {
    idHash: text('id_hash').primaryKey(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
    expiresAt: at('expires_at').notNull(),
  },
  (t) => [index('sessions_user_idx').on(t.userId)],
);

/** One-time enrolment tokens for agents; only their SHA-256 is stored. */
export const agentTokens = pgTable('agent_tokens', {
  id: uuid('id').primaryKey().defaultRandom(),
  tokenHash: text('token_hash').notNull().unique(),
  label: text('label').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
  expiresAt: at('expires_at').notNull(),
  usedAt: at('used_at'),
  usedByHostId: uuid('used_by_host_id'),
  revokedAt: at('revoked_at'),
});

/**
 * API tokens for automation (`Authorization: Bearer tern_…`): only the SHA-256 of the secret is
 * stored; the token acts as its user with `role`, never above the user's own role.
 */
export const apiTokens = pgTable(
  'api_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tokenHash: text('token_hash').notNull().unique(),
    /** The first characters of the token, so a listing can say which one is which. */
    prefix: text('prefix').notNull(),
    name: text('name').notNull(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    role: userRole('role').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    expiresAt: at('expires_at').notNull(),
    lastUsedAt: at('last_used_at'),
    revokedAt: at('revoked_at'),
  },
  (t) => [index('api_tokens_user_idx').on(t.userId)],
);

export const arrays = pgTable('arrays', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  vendor: text('vendor').notNull(),
  model: text('model').notNull(),
  /** 1 is the fastest tier. */
  tier: integer('tier').notNull(),
  driver: text('driver').notNull(),
  driverConfig: jsonb('driver_config').$type<Record<string, unknown>>().notNull(),
  capacityBytes: bytes('capacity_bytes').notNull(),
  state: arrayState('state').notNull().default('online'),
  /** True when every host reaches the array (fabric zoning); false: only the hosts in `array_host_paths`. */
  allHosts: boolean('all_hosts').notNull().default(true),
  createdAt: createdAt(),
});

export const luns = pgTable(
  'luns',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    arrayId: uuid('array_id')
      .notNull()
      .references(() => arrays.id),
    name: text('name').notNull(),
    wwn: text('wwn').notNull().unique(),
    sizeBytes: bytes('size_bytes').notNull(),
    /** The path a mapped host opens: a file on a directory array, a device path elsewhere. */
    path: text('path').notNull(),
    state: lunState('state').notNull().default('online'),
    createdAt: createdAt(),
  },
  // luns_array_size_idx: on PostgreSQL the per-array capacity rollup (arrays.list) is an index-only scan.
  (t) => [uniqueIndex('luns_array_name_idx').on(t.arrayId, t.name), index('luns_array_size_idx').on(t.arrayId, t.sizeBytes)],
);

export const hosts = pgTable('hosts', {
  id: uuid('id').primaryKey().defaultRandom(),
  hostname: text('hostname').notNull().unique(),
  agentUrl: text('agent_url'),
  agentVersion: text('agent_version'),
  state: hostState('state').notNull().default('pending'),
  stateSince: at('state_since').notNull().defaultNow(),
  lastHeartbeatAt: at('last_heartbeat_at'),
  /** SHA-256 of the agent's credential secret (a 256-bit random value, so a fast hash is enough). */
  credentialHash: text('credential_hash').notNull(),
  /** Hash of the last inventory the agent reported, so an unchanged report costs no writes. */
  inventoryHash: text('inventory_hash'),
  enrolledAt: createdAt(),
});

/** The hosts zoned to an array whose `all_hosts` is false: a host reaches the array only through a row here. */
export const arrayHostPaths = pgTable(
  'array_host_paths',
  {
    arrayId: uuid('array_id')
      .notNull()
      .references(() => arrays.id, { onDelete: 'cascade' }),
    hostId: uuid('host_id')
      .notNull()
      .references(() => hosts.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.arrayId, t.hostId] }), index('array_host_paths_host_idx').on(t.hostId)],
);

export const lunMappings = pgTable(
  'lun_mappings',
  {
    lunId: uuid('lun_id')
      .notNull()
      .references(() => luns.id, { onDelete: 'cascade' }),
    hostId: uuid('host_id')
      .notNull()
      .references(() => hosts.id, { onDelete: 'cascade' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.lunId, t.hostId] }), index('lun_mappings_host_idx').on(t.hostId)],
);

export const diskGroups = pgTable(
  'disk_groups',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    hostId: uuid('host_id')
      .notNull()
      .references(() => hosts.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('disk_groups_host_name_idx').on(t.hostId, t.name)],
);

export const volumes = pgTable(
  'volumes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    hostId: uuid('host_id')
      .notNull()
      .references(() => hosts.id, { onDelete: 'cascade' }),
    diskGroupId: uuid('disk_group_id')
      .notNull()
      .references(() => diskGroups.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    sizeBytes: bytes('size_bytes').notNull(),
    regionSizeBytes: integer('region_size_bytes').notNull(),
    /** NBD export name on the host's agent. */
    nbdExport: text('nbd_export').notNull(),
    /** Application writes over the last ~10 s, as the agent last reported them (stored only when they changed noticeably). */
    writeRateBytesPerS: bytes('write_rate_bytes_per_s'),
    /** The 95th percentile of 10 s write rates over the agent's last hour. */
    writeRateP95BytesPerS: bytes('write_rate_p95_bytes_per_s'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('volumes_dg_name_idx').on(t.diskGroupId, t.name), index('volumes_host_idx').on(t.hostId)],
);

export const plexes = pgTable(
  'plexes',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    volumeId: uuid('volume_id')
      .notNull()
      .references(() => volumes.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    /** Null when the agent reports a LUN the console does not know. */
    lunId: uuid('lun_id').references(() => luns.id, { onDelete: 'set null' }),
    lunPath: text('lun_path').notNull(),
    state: plexState('state').notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('plexes_volume_name_idx').on(t.volumeId, t.name), index('plexes_lun_idx').on(t.lunId)],
);

/**
 * An approved evacuation (server/evacuation): the constraints and plan as approved, the policies
 * its migrations were created with, and the rollup the reconciler refreshes each tick.
 */
export const evacuations = pgTable('evacuations', {
  id: uuid('id').primaryKey().defaultRandom(),
  sourceArrayIds: jsonb('source_array_ids').$type<string[]>().notNull(),
  /** PlanConstraints as approved (excluded volumes included). */
  constraints: jsonb('constraints').$type<Record<string, unknown>>().notNull(),
  /** Move key (`volumeId:lunId`) → target array id, as approved. */
  placement: jsonb('placement').$type<Record<string, unknown>>().notNull(),
  /** This evacuation's overrides of the Settings limits (Partial<PlanLimits>); applied at each tick. */
  limits: jsonb('limits').$type<Record<string, unknown>>().notNull(),
  window: jsonb('window').$type<Record<string, unknown> | null>(),
  /** Outside the window: keep copying (cutovers wait) or pause copying too. */
  outsideWindow: text('outside_window').notNull().default('keep-copying'),
  /** Cutover and commit policy given to every migration: 'auto' | 'manual'. */
  cutover: text('cutover').notNull().default('auto'),
  commitPolicy: text('commit_policy').notNull().default('auto'),
  /** The PlanResult as approved: the reference for drift (finish at approval, planned burndown). */
  plan: jsonb('plan').$type<Record<string, unknown>>(),
  approvedAt: at('approved_at'),
  state: evacuationState('state').notNull().default('planned'),
  rollup: jsonb('rollup').$type<Record<string, unknown>>().notNull().default({}),
  startedAt: at('started_at'),
  endedAt: at('ended_at'),
  createdBy: text('created_by').notNull(),
  createdAt: createdAt(),
  updatedAt: at('updated_at').notNull().defaultNow(),
});

/** The evacuation's burndown: bytes left on its sources and left to copy, at most one row per 5 s. */
export const evacuationSamples = pgTable(
  'evacuation_samples',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    evacuationId: uuid('evacuation_id')
      .notNull()
      .references(() => evacuations.id, { onDelete: 'cascade' }),
    at: at('at').notNull(),
    leftOnSourceBytes: bytes('left_on_source_bytes').notNull(),
    leftToCopyBytes: bytes('left_to_copy_bytes').notNull(),
    committedBytes: bytes('committed_bytes').notNull(),
  },
  (t) => [index('evacuation_samples_evacuation_at_idx').on(t.evacuationId, t.at)],
);

export const migrations = pgTable(
  'migrations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    volumeId: uuid('volume_id')
      .notNull()
      .references(() => volumes.id),
    /** Null once a completed migration has deleted its source LUN; the array and name stay for history. */
    sourceLunId: uuid('source_lun_id').references(() => luns.id, { onDelete: 'set null' }),
    sourceArrayId: uuid('source_array_id').references(() => arrays.id),
    sourceLunName: text('source_lun_name'),
    targetArrayId: uuid('target_array_id')
      .notNull()
      .references(() => arrays.id),
    targetLunId: uuid('target_lun_id').references(() => luns.id),
    strategy: migrationStrategy('strategy').notNull(),
    state: migrationState('state').notNull().default('planned'),
    pass: integer('pass').notNull().default(0),
    bytesCopied: bytes('bytes_copied').notNull().default(0),
    dirtyBytes: bytes('dirty_bytes').notNull().default(0),
    copyRateBytesPerS: bytes('copy_rate_bytes_per_s'),
    etaSeconds: integer('eta_seconds'),
    throttleBytesPerS: bytes('throttle_bytes_per_s'),
    cutoverPolicy: jsonb('cutover_policy').$type<Record<string, unknown>>().notNull().default({}),
    error: text('error'),
    evacuationId: uuid('evacuation_id').references(() => evacuations.id),
    /** Admission order among queued migrations: higher goes first (an evacuation gives its plan order). */
    priority: integer('priority').notNull().default(0),
    leaseOwner: text('lease_owner'),
    leaseEpoch: integer('lease_epoch').notNull().default(0),
    leaseExpiresAt: at('lease_expires_at'),
    /** Set while the host's agent does not answer; the migration keeps its state meanwhile. */
    agentUnreachableSince: at('agent_unreachable_since'),
    /** The agent's last reported status of the job (passes, verification, sample). */
    agentStatus: jsonb('agent_status').$type<Record<string, unknown>>(),
    createdBy: text('created_by').notNull(),
    createdAt: createdAt(),
    updatedAt: at('updated_at').notNull().defaultNow(),
    completedAt: at('completed_at'),
  },
  (t) => [
    index('migrations_state_idx').on(t.state),
    index('migrations_volume_idx').on(t.volumeId),
    index('migrations_evacuation_idx').on(t.evacuationId),
  ],
);

export const migrationSamples = pgTable(
  'migration_samples',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    migrationId: uuid('migration_id')
      .notNull()
      .references(() => migrations.id, { onDelete: 'cascade' }),
    at: at('at').notNull(),
    phase: text('phase').notNull(),
    pass: integer('pass').notNull(),
    leftBytes: bytes('left_bytes').notNull(),
    thresholdBytes: bytes('threshold_bytes'),
    copiedBytes: bytes('copied_bytes').notNull(),
    copyRateBytesPerS: bytes('copy_rate_bytes_per_s').notNull(),
    writeRateBytesPerS: bytes('write_rate_bytes_per_s').notNull(),
    writeLatencyP50Us: integer('write_latency_p50_us'),
    writeLatencyP99Us: integer('write_latency_p99_us'),
    throttleBytesPerS: bytes('throttle_bytes_per_s'),
  },
  // Unique: an agent's push and the engine's pull may bring the same sample; it is stored once.
  (t) => [uniqueIndex('migration_samples_migration_at_idx').on(t.migrationId, t.at)],
);

/** Append-only audit and event log. */
export const events = pgTable(
  'events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: at('at').notNull().defaultNow(),
    severity: eventSeverity('severity').notNull().default('info'),
    /** Dotted kind, e.g. `host.disconnected`, `agent.auth-refused`, `array.created`. */
    kind: text('kind').notNull(),
    actorKind: actorKind('actor_kind').notNull(),
    actorId: text('actor_id'),
    actorName: text('actor_name').notNull(),
    objectKind: text('object_kind').notNull(),
    objectId: text('object_id'),
    objectName: text('object_name'),
    message: text('message').notNull(),
    before: jsonb('before').$type<Record<string, unknown> | null>(),
    after: jsonb('after').$type<Record<string, unknown> | null>(),
  },
  (t) => [index('events_object_idx').on(t.objectKind, t.objectId), index('events_kind_idx').on(t.kind)],
);

/** Console-wide settings and secrets that every replica must share. */
export const settings = pgTable('settings', {
  key: text('key').primaryKey(),
  value: jsonb('value').notNull(),
  updatedAt: at('updated_at').notNull().defaultNow(),
});
