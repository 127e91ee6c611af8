import { randomFillSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { pooledRandomInstalled } from './pooledRandom.ts';

describe('pooled randomFillSync', () => {
  it('is what CommonJS modules (ssh2) get from require("crypto")', () => {
    expect(pooledRandomInstalled()).toBe(true);
    const required = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
    expect(required.randomFillSync.name).toBe('pooledRandomFillSync');
  });

  it('fills exactly the range asked for, with bytes never handed out twice', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      // 5000 × 16 bytes crosses the 64 KiB block: refills included.
      const packet = Buffer.alloc(40, 0xee);
      const required = createRequire(import.meta.url)(
        'node:crypto',
      ) as typeof import('node:crypto');
      required.randomFillSync(packet, 5, 16);
      expect(packet.subarray(0, 5).every((b) => b === 0xee)).toBe(true);
      expect(packet.subarray(21).every((b) => b === 0xee)).toBe(true);
      const padding = packet.subarray(5, 21).toString('hex');
      expect(seen.has(padding)).toBe(false);
      seen.add(padding);
    }
  });

  it('leaves large draws and bad arguments to the original', () => {
    const required = createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto');
    const big = Buffer.alloc(4096);
    required.randomFillSync(big);
    expect(big.filter((b) => b === 0).length).toBeLessThan(100);
    expect(() => required.randomFillSync(Buffer.alloc(8), 4, 8)).toThrow(RangeError);
    expect(randomFillSync).toBeTypeOf('function');
  });
});
