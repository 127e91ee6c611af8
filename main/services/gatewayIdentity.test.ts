import { describe, expect, it } from 'vitest';
import { recordingKeysOlderThanPinned } from './gatewayIdentity.ts';

const key = (n: number) => ({
  algorithm: 'ed25519' as const,
  keyId: `rk_${n}`,
  publicKeyPem: `PEM ${n}`,
});

/** The gateway after two rotations: rk_1 then rk_2 signed before, rk_3 signs now. */
const keys = { recordingKey: key(3), earlierRecordingKeys: [key(1), key(2)] };

describe('recording keys trusted besides the pinned one (issue #17)', () => {
  it('pinned to the current key: every earlier key', () => {
    expect(recordingKeysOlderThanPinned(keys, 'rk_3')).toEqual(['PEM 1', 'PEM 2']);
  });

  it('pinned before a rotation: only the keys older than the pin, not the newer current one', () => {
    expect(recordingKeysOlderThanPinned(keys, 'rk_2')).toEqual(['PEM 1']);
    expect(recordingKeysOlderThanPinned(keys, 'rk_1')).toEqual([]);
  });

  it('a pin the gateway does not list: nothing more is trusted', () => {
    expect(recordingKeysOlderThanPinned(keys, 'rk_9')).toEqual([]);
    expect(
      recordingKeysOlderThanPinned({ recordingKey: key(1), earlierRecordingKeys: [] }, 'rk_1'),
    ).toEqual([]);
  });
});
