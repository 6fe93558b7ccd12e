import path from 'node:path';

/** Every environment variable the console reads, in one place (documented in the README). */
function readConfig() {
  const env = process.env;
  const port = Number(env.PORT ?? 3000);
  return {
    port,
    /** Where PGlite, the demo fleet and the console's own files live. */
    dataDir: path.resolve(/*turbopackIgnore: true*/ env.TERN_DATA_DIR ?? '.tern'),
    /** PostgreSQL instead of the embedded database. */
    databaseUrl: env.DATABASE_URL || undefined,
    /** The URL agents use to reach this console. */
    publicUrl: env.TERN_URL ?? `http://127.0.0.1:${port}`,
    adminPassword: env.TERN_ADMIN_PASSWORD || undefined,
    /** `0` starts the console without the demo fleet. */
    demo: env.TERN_DEMO !== '0',
    demoSize: env.TERN_DEMO_SIZE === 'small' ? ('small' as const) : ('full' as const),
    /** `0` leaves the demo's volumes idle (no synthetic application writing). */
    demoWorkload: env.TERN_DEMO_WORKLOAD !== '0',
    /** An agent is `disconnected` once its last heartbeat is older than this. */
    heartbeatTimeoutMs: Number(env.TERN_HEARTBEAT_TIMEOUT_MS ?? 10_000),
    sessionTtlMs: Number(env.TERN_SESSION_TTL_HOURS ?? 12) * 3_600_000,
  };
}

export const config = readConfig();
export type Config = typeof config;
