/**
 * The Limits form's model: MiB/s on screen to bytes/s in the API and back, and the message under
 * each wrong field.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '@/server/evacuation/plan-types';
import { formFromLimits, limitsFromForm, sameForm } from './limits-form';

const MiB = 1024 * 1024;
const ARRAY = '0b6c3f1e-8a3e-4f7a-9d41-2f4b8f1c2a10';

describe('limits form', () => {
  it('shows bandwidth in MiB/s and sends bytes/s; an empty budget means none', () => {
    const form = formFromLimits({ ...DEFAULT_LIMITS, arrayBandwidthBytesPerS: { [ARRAY]: 200 * MiB } });
    expect(form.bandwidthMiB[ARRAY]).toBe('200');
    expect(limitsFromForm({ ...form, bandwidthMiB: { [ARRAY]: '1.5' } })).toEqual({ ok: true, limits: { ...DEFAULT_LIMITS, arrayBandwidthBytesPerS: { [ARRAY]: 1.5 * MiB } } });
    expect(limitsFromForm({ ...form, bandwidthMiB: { [ARRAY]: ' ' } })).toEqual({ ok: true, limits: DEFAULT_LIMITS });
  });

  it('names each wrong field', () => {
    const form = formFromLimits(DEFAULT_LIMITS);
    const result = limitsFromForm({ concurrency: { ...form.concurrency, perHost: '20', perTargetArray: '' , perSourceArray: '2.5' }, bandwidthMiB: { [ARRAY]: '0' } });
    expect(result).toEqual({
      ok: false,
      errors: {
        perHost: 'Concurrency per host (20) cannot exceed global concurrency (16).',
        perTargetArray: 'Enter a whole number, at least 1.',
        perSourceArray: 'Concurrency per source array must be a whole number.',
        [`bandwidth.${ARRAY}`]: 'Enter more than 0 MiB/s, or leave it empty for no budget.',
      },
    });
  });

  it('tells a change from the saved values, ignoring empty budgets', () => {
    const saved = formFromLimits(DEFAULT_LIMITS);
    expect(sameForm(saved, { ...saved, bandwidthMiB: { [ARRAY]: '' } })).toBe(true);
    expect(sameForm(saved, { ...saved, concurrency: { ...saved.concurrency, global: '8' } })).toBe(false);
  });
});
