import { describe, expect, it } from 'vitest';
import { gatewayName, healthAfterCheck, healthLabel } from './gatewayHealth.ts';

const pinned = {
  url: 'https://gw.example.com:8443',
  caFingerprint: 'AA:BB',
  recordingKeyId: 'k1',
  recordingKeyFingerprint: 'CC',
  isLocal: false,
};

describe('gateway health', () => {
  it('reachable with the pinned CA, with its round trip', () => {
    const health = healthAfterCheck('AA:BB', { caFingerprint: 'AA:BB', roundTripMs: 12.4 });
    expect(health).toEqual({ kind: 'reachable', roundTripMs: 12 });
    expect(healthLabel(health)).toBe('Reachable (12 ms)');
  });

  it('another CA is a changed certificate, not reachable', () => {
    const health = healthAfterCheck('AA:BB', { caFingerprint: 'EE:FF', roundTripMs: 3 });
    expect(healthLabel(health)).toBe('Certificate changed');
  });

  it('a failed check is unreachable and keeps the reason for the tooltip', () => {
    const health = healthAfterCheck('AA:BB', { error: 'Cannot reach the gateway: ECONNREFUSED' });
    expect(health).toEqual({
      kind: 'unreachable',
      message: 'Cannot reach the gateway: ECONNREFUSED',
    });
    expect(healthLabel(health)).toBe('Unreachable');
  });

  it('names a remote gateway by host:port and the embedded one as local', () => {
    expect(gatewayName(pinned)).toBe('gw.example.com:8443');
    expect(gatewayName({ ...pinned, url: 'https://127.0.0.1:41234', isLocal: true })).toBe(
      'Local gateway',
    );
  });
});
