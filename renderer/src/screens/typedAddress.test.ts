import { describe, expect, it } from 'vitest';
import { normalizeGatewayUrl } from './formValidation.ts';
import { echoTypedAddress } from './typedAddress.ts';

describe('a mistyped gateway address is echoed as typed', () => {
  it('an internationalised host is not shown in its punycode form', () => {
    const typed = 'gateway.exämple.com';
    const sent = normalizeGatewayUrl(typed);
    expect(sent).toEqual({ url: 'https://gateway.xn--exmple-cua.com' });
    const message =
      'Cannot reach the gateway at https://gateway.xn--exmple-cua.com: ENOTFOUND — is the host name right?';
    expect(echoTypedAddress(message, 'https://gateway.xn--exmple-cua.com', typed)).toBe(
      'Cannot reach the gateway at gateway.exämple.com: ENOTFOUND — is the host name right?',
    );
  });

  it('the host alone (as a system error names it) is put back too', () => {
    expect(
      echoTypedAddress(
        'getaddrinfo ENOTFOUND xn--gtewy-qra.example',
        'https://xn--gtewy-qra.example:8443',
        'https://gätewy.example:8443',
      ),
    ).toBe('getaddrinfo ENOTFOUND gätewy.example');
  });

  it('leaves a message alone when nothing was rewritten', () => {
    const message = 'Cannot reach the gateway at https://gw.example:8443: ECONNREFUSED';
    expect(echoTypedAddress(message, 'https://gw.example:8443', 'https://gw.example:8443')).toBe(
      message,
    );
  });

  it('an address that does not parse is quoted as typed, not encoded', () => {
    const result = normalizeGatewayUrl('https://gate way.example/%zz');
    expect(result).toEqual({
      problem: expect.stringContaining('“https://gate way.example/%zz”'),
    });
  });
});
