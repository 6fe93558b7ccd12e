import 'server-only';
import { arraysRouter } from './routers/arrays';
import { authRouter } from './routers/auth';
import { evacuationsRouter } from './routers/evacuations';
import { eventsRouter } from './routers/events';
import { hostsRouter } from './routers/hosts';
import { migrationsRouter } from './routers/migrations';
import { overviewRouter } from './routers/overview';
import { settingsRouter } from './routers/settings';
import { tokensRouter } from './routers/tokens';
import { volumesRouter } from './routers/volumes';
import { createCallerFactory, createTRPCRouter } from './trpc';

export const appRouter = createTRPCRouter({
  auth: authRouter,
  overview: overviewRouter,
  arrays: arraysRouter,
  hosts: hostsRouter,
  volumes: volumesRouter,
  migrations: migrationsRouter,
  evacuations: evacuationsRouter,
  events: eventsRouter,
  settings: settingsRouter,
  tokens: tokensRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
