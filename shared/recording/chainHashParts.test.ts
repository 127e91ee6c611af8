import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { chainHash, chainHashParts } from './recordingFormat.ts';

describe('chainHashParts', () => {
  it('equals chainHash of the joined frame, on both sides of the small-frame fast path', () => {
    const previous = randomBytes(32);
    const header = randomBytes(20);
    // 4096 is the scratch size: 4044 bytes of data still fit, 4045 take the streaming path.
    for (const size of [0, 1, 13, 100, 4043, 4044, 4045, 70_000]) {
      const data = randomBytes(size);
      expect(chainHashParts(previous, header, data).toString('hex'), `${size} bytes`).toBe(
        chainHash(previous, Buffer.concat([header, data])).toString('hex'),
      );
    }
  });

  it('returns a hash of its own, not a view of a shared buffer', () => {
    const previous = randomBytes(32);
    const first = chainHashParts(previous, randomBytes(20), randomBytes(10));
    const copy = Buffer.from(first);
    chainHashParts(previous, randomBytes(20), randomBytes(10));
    expect(first.equals(copy)).toBe(true);
  });
});
