import { describe, expect, it } from 'vitest';
import { certificateUris, readCertificateIdentity } from './certificateIdentity.ts';

describe('certificate identity', () => {
  it('reads back what it writes, in Node’s rendering of the SAN list', () => {
    const uris = certificateUris({ userId: 'usr_abc', resourceId: 'res_x-1' });
    const subjectAltName = uris.map((uri) => `URI:${uri}`).join(', ');
    expect(readCertificateIdentity({ subjectAltName })).toEqual({
      userId: 'usr_abc',
      resourceId: 'res_x-1',
    });
  });

  it('refuses to write an id that could be read two ways', () => {
    expect(() => certificateUris({ userId: 'usr_a, URI:x', resourceId: 'res_b' })).toThrow(
      /cannot be written/,
    );
  });
});
