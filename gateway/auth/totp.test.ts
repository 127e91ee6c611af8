import { describe, expect, it } from 'vitest';
import { generateTotpSecret, matchTotp, totpCode, totpStep } from './totp.ts';

// RFC 6238 Appendix B test vectors (SHA-1 key "12345678901234567890", 8 digits there; the
// last six digits are the 6-digit code).
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';

describe('totp', () => {
  it('matches the RFC 6238 test vectors', () => {
    expect(totpCode(RFC_SECRET, totpStep(59_000))).toBe('287082');
    expect(totpCode(RFC_SECRET, totpStep(1_111_111_109_000))).toBe('081804');
    expect(totpCode(RFC_SECRET, totpStep(2_000_000_000_000))).toBe('279037');
  });

  it('accepts one step of drift and refuses replay of a used step', () => {
    const secret = generateTotpSecret();
    const now = 1_700_000_000_000;
    const previous = totpCode(secret, totpStep(now) - 1);
    expect(matchTotp(secret, previous, now, null)).toBe(totpStep(now) - 1);
    expect(matchTotp(secret, previous, now, totpStep(now) - 1)).toBeUndefined();
    const old = totpCode(secret, totpStep(now) - 3);
    expect(matchTotp(secret, old, now, null)).toBeUndefined();
  });
});
