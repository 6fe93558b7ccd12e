import type { inferRouterOutputs } from '@trpc/server';
import type { AppRouter } from '@/server/api/root';

/** What each procedure returns, as the browser receives it (superjson keeps Dates). */
export type RouterOutputs = inferRouterOutputs<AppRouter>;

export type Overview = RouterOutputs['overview']['get'];
export type ArrayListItem = RouterOutputs['arrays']['list'][number];
export type ArrayDetail = RouterOutputs['arrays']['get'];
export type LunPage = RouterOutputs['arrays']['luns'];
export type LunRow = LunPage['luns'][number];
export type HostPage = RouterOutputs['hosts']['list'];
export type HostListItem = HostPage['hosts'][number];
export type HostDetail = RouterOutputs['hosts']['get'];
export type DiskGroup = HostDetail['diskGroups'][number];
export type Volume = DiskGroup['volumes'][number];
export type Plex = Volume['plexes'][number];
export type EventRow = RouterOutputs['events']['list']['events'][number];
export type MigrationRow = RouterOutputs['migrations']['list'][number];
export type SessionUser = NonNullable<RouterOutputs['auth']['me']>;
export type Role = SessionUser['role'];
export type HostState = HostListItem['state'];
