import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS } from '@/server/evacuation/plan-types';
import { reportCsv, toCsv } from './csv';
import { checkLimits, confirmPhrase, draftToQuery, parseDraft, planConstraints } from './draft';

const ids = new Map([
  ['ARR-02', 'id-2'],
  ['ARR-03', 'id-3'],
  ['ARR-04', 'id-4'],
]);

describe('the wizard draft in the URL', () => {
  it('reads defaults from an empty query and from the array page’s link', () => {
    const draft = parseDraft(new URLSearchParams('arrays=ARR-03'));
    expect(draft).toMatchObject({ step: 'source', sources: ['ARR-03'], targets: null, strategy: 'auto', cutover: 'auto', commit: 'auto', window: null, order: 'smallest-first' });
    expect(draftToQuery(draft)).toBe('arrays=ARR-03');
  });

  it('keeps every choice across a round trip, including text that does not validate', () => {
    const draft = parseDraft(new URLSearchParams('arrays=ARR-03,ARR-04'));
    const edited = {
      ...draft,
      step: 'limits' as const,
      targets: ['ARR-02'],
      allowLowerTier: true,
      overrides: { 'vol-1:lun-1': 'id-2' },
      excludedVolumeIds: ['vol-9'],
      strategy: 'mirror' as const,
      pauseBudgetMs: '5',
      limits: { global: '4', perHost: 'x', perSourceArray: '', perTargetArray: '2' },
      bandwidthMiB: { 'ARR-03': '200' },
      cutover: 'manual' as const,
      commit: 'manual' as const,
      window: { start: '22:00', end: '06:00', timeZone: 'Europe/Paris' },
      outsideWindow: 'pause' as const,
      acks: ['mirror-latency'],
    };
    expect(parseDraft(new URLSearchParams(draftToQuery(edited)))).toEqual(edited);
  });
});

describe('checkLimits', () => {
  const base = parseDraft(new URLSearchParams('arrays=ARR-03'));
  it('sends only what was typed, in bytes/s for bandwidth', () => {
    const result = checkLimits({ ...base, limits: { ...base.limits, global: '8' }, bandwidthMiB: { 'ARR-03': '200' }, pauseBudgetMs: '250' }, ids, DEFAULT_LIMITS);
    expect(result.errors).toEqual([]);
    expect(result.limits).toEqual({ global: 8, arrayBandwidthBytesPerS: { 'id-3': 200 * 1024 * 1024 } });
    expect(result.pauseBudgetMs).toBe(250);
  });
  it('names each field that is wrong', () => {
    const result = checkLimits(
      { ...base, limits: { global: '0', perHost: '1.5', perSourceArray: '', perTargetArray: '' }, pauseBudgetMs: '5', bandwidthMiB: { 'ARR-02': 'fast' }, window: { start: '25:00', end: '06:00', timeZone: 'UTC' } },
      ids,
      DEFAULT_LIMITS,
    );
    expect(result.errors.map((e) => e.field)).toEqual(['limit-global', 'limit-per-host', 'bandwidth-ARR-02', 'pause-budget', 'window-start']);
    expect(result.errors[3]?.message).toMatch(/10 to 10,000/);
  });
  it('keeps per host at or below the global limit, counting the Settings default', () => {
    const result = checkLimits({ ...base, limits: { ...base.limits, perHost: '20' } }, ids, DEFAULT_LIMITS);
    expect(result.errors).toEqual([{ field: 'limit-per-host', message: 'Concurrency per host (20) cannot be above the global limit (16).' }]);
  });
});

describe('planConstraints and the confirmation phrase', () => {
  it('maps names to ids', () => {
    const draft = { ...parseDraft(new URLSearchParams('arrays=ARR-03&targets=ARR-02')), excludedVolumeIds: ['v'] };
    expect(planConstraints(draft, ids, undefined)).toMatchObject({ sourceArrayIds: ['id-3'], targetArrayIds: ['id-2'], excludedVolumeIds: ['v'] });
    expect(planConstraints(draft, ids, 100).pauseBudgetMs).toBe(100);
  });
  it('is the first source, with +N for the others', () => {
    expect(confirmPhrase(['ARR-03'])).toBe('ARR-03');
    expect(confirmPhrase(['ARR-03', 'ARR-04'])).toBe('ARR-03 +1');
    expect(confirmPhrase([])).toBe('');
  });
});

describe('CSV', () => {
  it('quotes fields that need it and writes raw numbers and UTC times', () => {
    expect(toCsv(['a', 'b'], [['x,y', 'say "hi"']])).toBe('a,b\r\n"x,y","say ""hi"""\r\n');
    const csv = reportCsv([
      {
        host: 'db-01',
        diskGroup: 'oradg',
        volume: 'vol-data01',
        sizeBytes: 134217728,
        sourceArray: 'ARR-03',
        sourceLun: 'lun-1',
        targetArray: 'ARR-02',
        targetLun: null,
        strategy: 'precopy',
        copyStartedAt: Date.UTC(2026, 10, 28, 22, 0, 0),
        cutoverAt: null,
        cutoverPauseMs: 12,
        committedAt: null,
        bytesCopied: 140000000,
        verification: 'full checksum match',
      },
    ]);
    expect(csv.split('\r\n')[1]).toBe('db-01,oradg,vol-data01,134217728,ARR-03,lun-1,ARR-02,,precopy,2026-11-28T22:00:00.000Z,,12,,140000000,full checksum match');
  });
});
