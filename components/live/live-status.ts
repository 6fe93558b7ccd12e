import type { LiveConnection } from './live-updates';

/** After this long without a live connection the pill says Offline (docs/ui.md §2.7). */
export const OFFLINE_AFTER_MS = 30_000;

export type LiveStatus = 'live' | 'reconnecting' | 'offline';

/** The pill's state from the connection and the clock. */
export function liveStatus(connection: Pick<LiveConnection, 'status' | 'since'>, now: number): LiveStatus {
  if (connection.status === 'live') return 'live';
  if (connection.status === 'stopped') return 'offline';
  if (now && now - connection.since > OFFLINE_AFTER_MS) return 'offline';
  return 'reconnecting';
}
