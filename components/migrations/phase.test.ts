/** The phase bar's model: which segment, which fraction, which words, for each kind of state. */
import { describe, expect, it } from 'vitest';
import { phaseOf, type PhaseInput } from './phase';

const GiB = 1024 ** 3;
const base: PhaseInput = { state: 'copying', strategy: 'precopy', pass: 0, bytesCopied: 0, dirtyBytes: 0, volumeSizeBytes: 512 * GiB };

describe('phaseOf', () => {
  it('shows the whole-volume copy as Copy with its own fraction', () => {
    const view = phaseOf({ ...base, bytesCopied: 0.625 * 512 * GiB });
    expect(view.active).toBe(1);
    expect(view.fraction).toBeCloseTo(0.625);
    expect(view.label).toBe('Copy · 62%');
    expect(view.segments.map((s) => s.status)).toEqual(['done', 'active', 'todo', 'todo', 'todo', 'todo']);
  });

  it('shows later passes as Converge with no fraction and the bytes left', () => {
    const view = phaseOf({ ...base, pass: 2, bytesCopied: 600 * GiB, dirtyBytes: 4.1 * GiB });
    expect(view.active).toBe(2);
    expect(view.fraction).toBeNull();
    expect(view.label).toBe('Converge · P2 · 4.10\u00a0GiB left');
    expect(view.ariaLabel).toBe('Phase 3 of 6, Converge, P2, 4.10\u00a0GiB left');
  });

  it('counts a mirror resync by bytes in sync', () => {
    const view = phaseOf({ ...base, state: 'syncing', strategy: 'mirror', bytesCopied: 300 * GiB, dirtyBytes: 256 * GiB });
    expect(view.segments[1]?.name).toBe('Resync');
    expect(view.fraction).toBeCloseTo(0.5);
    expect(view.label).toBe('Resync · 50%');
  });

  it('marks a paused copy amber at the segment it reached', () => {
    const view = phaseOf({ ...base, state: 'paused', pass: 3, agentPhase: 'converging' });
    expect(view.active).toBe(2);
    expect(view.tone).toBe('paused');
    expect(view.label.startsWith('Paused · Converge')).toBe(true);
  });

  it('marks a failure red at its segment and hatches the rest', () => {
    const view = phaseOf({ ...base, state: 'failed', bytesCopied: GiB });
    expect(view.active).toBe(1);
    expect(view.segments.map((s) => s.status)).toEqual(['done', 'active', 'hatched', 'hatched', 'hatched', 'hatched']);
  });

  it('waits before the first segment while queued and fills everything when completed', () => {
    expect(phaseOf({ ...base, state: 'queued' }).active).toBe(-1);
    const done = phaseOf({ ...base, state: 'completed' });
    expect(done.segments.every((s) => s.status === 'done')).toBe(true);
    expect(done.label).toBe('Completed');
  });

  it('shows verification progress when it is known', () => {
    const view = phaseOf({ ...base, state: 'verifying', verify: { done: 30, total: 120 } });
    expect(view.active).toBe(4);
    expect(view.fraction).toBeCloseTo(0.25);
    expect(view.label).toBe('Verify · 25%');
  });
});
