import 'server-only';
/**
 * Owns the reading of an agent's job status: which console state a job phase means, and the
 * progress figures the console keeps on the migration row.
 */
import type { MigrationStatus } from '@/server/protocol/agent-api';
import type { MigrationRow } from './create';
import type { MigrationState } from './migration-states';

/** The console state for the agent's view of the job; `current` when the phase has no state of its own. */
export function consoleState(status: MigrationStatus, current: MigrationState): MigrationState {
  switch (status.phase) {
    case 'copying':
    case 'converging':
      if (status.paused) return 'paused';
      return status.strategy === 'mirror' ? 'syncing' : 'copying';
    case 'ready':
      return status.paused ? 'paused' : 'ready';
    case 'cutting-over':
    case 'verifying':
    case 'verified':
    case 'failed':
    case 'rolled-back':
    case 'cancelled':
      return status.phase;
    case 'committed':
      return current === 'completed' ? 'completed' : 'committing';
    default:
      // rolling-back: the console keeps the state it had until the agent reports rolled-back.
      return current;
  }
}

/** Progress columns from the agent's status. */
export function progressOf(status: MigrationStatus, regionSizeBytes: number): Partial<MigrationRow> {
  const sample = status.sample;
  const dirtyBytes = sample?.leftBytes ?? status.regionsDirty * regionSizeBytes;
  const rate = sample?.copyRateBytesPerS ?? 0;
  const etaSeconds = sample?.predictedConvergeS ?? (rate > 0 ? dirtyBytes / rate : null);
  return {
    pass: status.pass,
    bytesCopied: status.bytesCopied,
    dirtyBytes,
    copyRateBytesPerS: sample ? Math.round(rate) : null,
    etaSeconds: etaSeconds === null ? null : Math.round(etaSeconds),
    // Not throttleBytesPerS: the row keeps the operator's own limit; the rate the engine applies
    // (which budgets may lower) is the agent's, in agentStatus.
    agentStatus: status as unknown as Record<string, unknown>,
    error: status.error,
  };
}

/** Why the console moved to `to`, in words, for the event. */
export function causeOf(status: MigrationStatus, to: MigrationState): string {
  const volume = status.volume;
  switch (to) {
    case 'syncing':
    case 'copying':
      return `${volume}: agent reports ${status.phase}, pass ${status.pass}${status.strategy !== status.originalStrategy ? ` (changed from ${status.originalStrategy} to ${status.strategy}: the pre-copy did not converge)` : ''}`;
    case 'ready':
      return `${volume}: converged after pass ${status.pass}; waiting for "cut over now"`;
    case 'paused':
      return `${volume}: agent reports the copy paused in pass ${status.pass}`;
    case 'verified':
      return `${volume}: switched to the target and verified (${status.verify?.regionsCompared ?? 0} regions compared, cutover pause ${status.cutoverPauseMs ?? '?'} ms)`;
    case 'failed':
      return `${volume}: agent reports the job failed: ${status.error ?? 'no reason given'}${status.switched ? '' : '; the source is intact'}`;
    case 'committing':
      return `${volume}: agent committed the switch; releasing the source LUN`;
    default:
      return `${volume}: agent reports ${status.phase}`;
  }
}
