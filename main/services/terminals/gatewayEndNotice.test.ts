import { describe, expect, it } from 'vitest';
import { classifyGatewayNotice, findGatewayNotice } from './gatewayEndNotice.ts';

describe('gateway end notices', () => {
  it('finds the last notice the proxy framed on stderr', () => {
    const tail =
      'some output\r\nWitness: port forwarding is not allowed.\r\nmore\r\n' +
      '\r\nWitness: Your session on web-1 was ended (terminated by root).\r\n';
    expect(findGatewayNotice(tail)).toBe('Your session on web-1 was ended (terminated by root).');
    expect(findGatewayNotice('plain stderr\r\n')).toBeUndefined();
  });

  it.each([
    [
      'Your access to web-1 ended at 14:02 UTC (grant limit). Request access again to continue.',
      'expired',
    ],
    ['Your session on web-1 was ended (terminated by root-admin).', 'terminated'],
    ['Your session on web-1 was ended (terminated by disabled-bob).', 'terminated'],
    ['Your session on web-1 was ended (access revoked: the grant is no longer valid).', 'revoked'],
    ['Your session on web-1 was ended (access revoked: the grant was deleted).', 'revoked'],
    ['Your session on web-1 was ended (user disabled).', 'disabled'],
    ['Your session on web-1 was ended (access revoked: the account was disabled).', 'disabled'],
    ['the recording could not be saved; this session was closed.', 'recording_failed'],
    ['the connection to web-1 was closed by the target.', 'other'],
    ['The Witness gateway is shutting down; your session on web-1 was closed.', 'other'],
  ])('%s → %s', (notice, cause) => {
    expect(classifyGatewayNotice(notice)).toBe(cause);
  });
});
