import 'server-only';
import { database } from '@/db/client';
import { ensureFirstAdmin } from '@/server/auth/sessions';
import { config } from '@/server/config';
import { lockDataDir } from '@/server/console-lock';
import { logger } from '@/server/log';

const holder = globalThis as unknown as { ternBooted?: Promise<void> };

export function boot(): Promise<void> {
  holder.ternBooted ??= start();
  return holder.ternBooted;
}

async function start() {
  if (!config.databaseUrl) lockDataDir(config.dataDir);
  const opened = await database();
  const { db, kind, location } = opened;
  logger.info('database ready', { kind, location });
  if (opened.notifications) {
    // Replicas share PostgreSQL: live updates published on any of them reach every replica's subscribers.
    const { startBusRelay } = await import('@/server/events/pg-notify');
    await startBusRelay(opened);
  }
  const admin = await ensureFirstAdmin(db, config.adminPassword);
  if (admin.created && admin.generatedPassword) {
    // Printed once, on the first start only: the password is stored hashed and never again shown.
    process.stdout.write(
      `\n  Tern first start: sign in as "admin" with password  ${admin.generatedPassword}\n  (set TERN_ADMIN_PASSWORD to choose it instead)\n\n`,
    );
  } else if (admin.created) {
    logger.info('created the admin user from TERN_ADMIN_PASSWORD');
  }
  const { startLivenessMonitor } = await import('@/server/fleet/hosts');
  startLivenessMonitor(db);
  if (!config.databaseUrl) {
    // The data folder is locked to this process, so any other lease holder died with its console.
    const { expireLeasesOfDeadOwners } = await import('@/server/engine/lease');
    const taken = await expireLeasesOfDeadOwners(db);
    if (taken) logger.info('taking over migrations of the previous console process', { migrations: taken });
  }
  const { startReconciler } = await import('@/server/engine/reconciler');
  startReconciler(db);
  if (config.demo) {
    const { startDemoFleet } = await import('@/server/demo/fleet');
    // In the background: agents enrol over HTTP, which needs this server to be listening.
    void startDemoFleet(db).catch((error: unknown) => logger.error('demo fleet failed to start', { error: (error as Error).message }));
  }
  logger.info('console ready', { url: config.publicUrl, demo: config.demo });
}
