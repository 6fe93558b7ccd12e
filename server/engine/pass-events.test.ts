import { describe, expect, it } from 'vitest';
import { passEvents } from './pass-events';

const KiB64 = 64 * 1024;
const pass = (n: number, atStart: number, copied: number, redirtied: number) => ({ pass: n, startedAt: '2026-11-28T10:00:00Z', dirtyRegionsAtStart: atStart, copiedRegions: copied, redirtiedRegions: redirtied });

describe('pass events', () => {
  it('explains each newly finished pass once: what it copied, what was re-dirtied, and whether the next pass shrinks', () => {
    const before = { passes: [pass(0, 2048, 2048, 400)] };
    const after = { volume: 'oradg/vol-data01', strategy: 'precopy' as const, passes: [pass(0, 2048, 2048, 400), pass(1, 400, 400, 1240), pass(2, 1240, 1240, 0)] };
    const events = passEvents(before, after, KiB64);
    expect(events.map((e) => e.after.pass)).toEqual([1, 2]);
    expect(events[0]).toMatchObject({
      severity: 'warning',
      message: 'oradg/vol-data01: pass 1 done: copied 400 regions (25 MiB); 1,240 regions (77.5 MiB) re-dirtied by application writes meanwhile, to copy again in pass 2 (pass 2 is larger than pass 1: the application wrote faster than the copy ran)',
      after: { grew: true, redirtiedBytes: 1240 * KiB64 },
    });
    expect(events[1]).toMatchObject({ severity: 'info', message: expect.stringMatching(/pass 2 done: copied 1,240 regions \(77\.5 MiB\); no write landed behind the copy/) });
    expect(passEvents(after, after, KiB64)).toEqual([]);
  });

  it('says how much smaller the next pass is, starting from the whole volume', () => {
    const [event] = passEvents(null, { volume: 'dg/v', strategy: 'precopy', passes: [pass(0, 2048, 2048, 512)] }, KiB64);
    expect(event?.message).toBe('dg/v: pass 0 (the whole volume) done: copied 2,048 regions (128 MiB); 512 regions (32 MiB) re-dirtied by application writes meanwhile, to copy again in pass 1 (pass 1 has 4.0× less to copy)');
  });

  it('a mirror resync only shrinks: new writes go to both copies', () => {
    const [event] = passEvents(null, { volume: 'dg/v', strategy: 'mirror', passes: [pass(0, 16, 16, 0)] }, KiB64);
    expect(event?.message).toBe('dg/v: pass 0 (the whole volume) done: copied 16 regions (1 MiB); new writes went to both copies');
  });
});
