/** The status sentence, for the conditions of docs/ui.md §3.9.3. */
import { describe, expect, it } from 'vitest';
import { statusSentence, type SentenceInput } from './status-sentence';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const base: SentenceInput = {
  state: 'copying',
  strategy: 'precopy',
  agentPhase: 'converging',
  pass: 2,
  bytesCopied: 600 * GiB,
  dirtyBytes: 4.1 * GiB,
  volumeSizeBytes: 512 * GiB,
  hostname: 'db-03',
  sourceArrayName: 'ARR-03',
  targetArrayName: 'ARR-07',
  error: null,
  agentUnreachableSince: null,
  cutoverPolicy: { mode: 'auto', commit: 'manual' },
  cutoverPauseMs: null,
  pauseBudgetMs: 100,
  prediction: {
    condition: 'converging',
    copyRateBytesPerS: 1.2 * GiB,
    writeRateBytesPerS: 400 * MiB,
    shrinkFactor: 3.07,
    pass: 2,
    totalPassesEstimate: 6,
    switchPauseMs: 60,
    pauseIfSwitchedNowMs: 3400,
    etaS: { p10: 30, p50: 40, p90: 50 },
  },
};
const NBSP = '\u00a0';

describe('statusSentence', () => {
  it('reads a converging pre-copy as the wireframe does', () => {
    expect(statusSentence(base, 4.1 * GiB, Date.now())).toBe(
      `Pass 2 of about 6. 4.10${NBSP}GiB still to copy before the switch; each pass is ~3.1× smaller than the last. The switch should happen in <1 min, pausing writes for ~60${NBSP}ms (budget 100${NBSP}ms).`,
    );
  });

  it('tells pass 0 by the share of the volume copied', () => {
    expect(statusSentence({ ...base, pass: 0, bytesCopied: 0.625 * 512 * GiB, prediction: { ...base.prediction, pass: 0 } }, 200 * GiB, Date.now())).toBe(
      `Copying the whole volume once (62% of 512${NBSP}GiB). Writes made meanwhile are tracked and copied again in later passes.`,
    );
  });

  it('names non-convergence with both rates', () => {
    const text = statusSentence({ ...base, prediction: { ...base.prediction, condition: 'not-converging', writeRateBytesPerS: 1.3 * GiB } }, 4.1 * GiB, Date.now());
    expect(text).toMatch(/^Not converging: the application writes 1\.30.GiB\/s, the copy runs at 1\.20.GiB\/s/);
  });

  it('waits for the operator when ready with a manual cutover', () => {
    const text = statusSentence({ ...base, state: 'ready', cutoverPolicy: { mode: 'manual', commit: 'manual' } }, 75 * MiB, Date.now());
    expect(text).toBe(`Ready to switch. What is left (75.0${NBSP}MiB) fits a ~60${NBSP}ms pause. Waiting for you: press Cut over now.`);
  });

  it('describes a mirror resync and its end', () => {
    const mirror = { ...base, strategy: 'mirror' as const, state: 'syncing' };
    expect(statusSentence(mirror, 256 * GiB, Date.now())).toBe(
      `The new LUN is attached as a second copy. Every new write goes to both; 256${NBSP}GiB of older data is still being copied across (50% in sync).`,
    );
    expect(statusSentence(mirror, 0, Date.now())).toBe('Both copies are identical. Detaching the old LUN needs no pause.');
  });

  it('puts an unreachable agent first', () => {
    const now = Date.UTC(2026, 0, 1, 12, 5, 0);
    const text = statusSentence({ ...base, agentUnreachableSince: new Date(now - 130_000) }, null, now);
    expect(text).toMatch(/^No data from the agent on db-03 since .* \(2 min 10 s ago\)\./);
  });

  it('says where a failure happened and that the source is intact', () => {
    expect(statusSentence({ ...base, state: 'failed', agentPhase: 'failed', error: 'target write failed' }, null, Date.now())).toBe(
      'Failed during Converge: target write failed. The source is intact and still in use.',
    );
  });

  it('says why a queued migration waits, in the scheduler’s words', () => {
    expect(statusSentence({ ...base, state: 'queued', queueReason: 'waits for a slot: host db-03 runs 2 of 2' }, null, Date.now())).toBe(
      'Queued: waits for a slot: host db-03 runs 2 of 2. The copy starts when the scheduler admits it.',
    );
  });

  it('a window policy says when the switch may happen while the window is closed', () => {
    const now = Date.UTC(2026, 10, 28, 12, 0, 0);
    const ready = { ...base, state: 'ready', cutoverPolicy: { mode: 'window', commit: 'auto', window: { start: '22:00', end: '06:00', timeZone: 'UTC' } } };
    expect(statusSentence(ready, 64 * 1024 * 1024, now)).toMatch(/^Ready to switch, but cutovers are allowed only in the window 22:00–06:00 UTC \(opens .*\)\. Copying continues until then so the switch stays short\.$/);
    const night = Date.UTC(2026, 10, 28, 23, 0, 0);
    expect(statusSentence(ready, 64 * 1024 * 1024, night)).toMatch(/^Ready to switch\. What is left/);
  });
});
