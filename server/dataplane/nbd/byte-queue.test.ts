import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteQueue } from './byte-queue';

describe('ByteQueue', () => {
  it('hands out a view, not a copy, when the bytes lie in one chunk', () => {
    const queue = new ByteQueue();
    const chunk = Buffer.from('0123456789');
    queue.push(chunk);
    const taken = queue.take(4);
    expect(taken.toString()).toBe('0123');
    expect(taken.buffer).toBe(chunk.buffer);
    expect(queue.length).toBe(6);
  });

  it('returns exactly the bytes pushed, however they are chunked and taken', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }), fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 30 }), (chunks, takes) => {
        const queue = new ByteQueue();
        const all = Buffer.concat(chunks.map((c) => Buffer.from(c)));
        for (const chunk of chunks) queue.push(Buffer.from(chunk));
        let at = 0;
        takes.forEach((count, i) => {
          if (count > queue.length) {
            expect(() => queue.take(count)).toThrow(RangeError);
            return;
          }
          if (i % 2) queue.skip(count);
          else expect(queue.take(count).equals(all.subarray(at, at + count))).toBe(true);
          at += count;
          expect(queue.length).toBe(all.length - at);
        });
      }),
    );
  });
});
