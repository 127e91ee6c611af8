import { describe, expect, it } from 'vitest';
import { formatEnrollLink, InvalidEnrollLinkError, parseEnrollLink } from './enrollLink.ts';

const fingerprint = Array.from({ length: 32 }, () => 'AB').join(':');

describe('enrollment links', () => {
  it('round-trips and normalizes the gateway URL and fingerprint', () => {
    const link = formatEnrollLink({
      gateway: 'https://gw.example:8443',
      token: 'wen_abc',
      fingerprint,
    });
    expect(link).toMatch(
      /^witness:\/\/enroll\?gateway=https%3A%2F%2Fgw\.example%3A8443&token=wen_abc&/,
    );
    expect(parseEnrollLink(link)).toEqual({
      gateway: 'https://gw.example:8443',
      token: 'wen_abc',
      fingerprint,
    });
    const loose = `witness://enroll?gateway=HTTPS://GW.example:8443/&token=t&fingerprint=${fingerprint.replaceAll(':', '').toLowerCase()}`;
    expect(parseEnrollLink(loose)).toEqual({
      gateway: 'https://gw.example:8443',
      token: 't',
      fingerprint,
    });
  });

  it.each([
    ['https://gw/enroll?token=x', /not a witness:\/\/enroll link/],
    ['witness://enroll?gateway=https%3A%2F%2Fgw', /token parameter is missing/],
    ['witness://enroll?gateway=http%3A%2F%2Fgw&token=t', /must use https/],
    [
      'witness://enroll?gateway=https%3A%2F%2Fgw&token=t&fingerprint=12',
      /not a SHA-256 fingerprint/,
    ],
  ])('refuses %s', (text, message) => {
    expect(() => parseEnrollLink(text)).toThrow(InvalidEnrollLinkError);
    expect(() => parseEnrollLink(text)).toThrow(message);
  });
});
