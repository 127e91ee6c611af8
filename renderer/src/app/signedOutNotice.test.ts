import { describe, expect, it } from 'vitest';
import { accessEndOf, GENERIC_SIGNED_OUT, signedOutNotice } from './signedOutNotice.ts';

describe('signedOutNotice', () => {
  const disabled = accessEndOf(
    {
      kind: 'gateway',
      cause: 'disabled',
      message: 'Your session on web-1 was ended (access revoked: the account was disabled).',
    },
    1000,
  );

  it('says the account was disabled, in the gateway’s words, right after such an end', () => {
    const notice = signedOutNotice(disabled, 5000);
    expect(notice).toMatch(/^You were signed out because your account was disabled\./);
    expect(notice).toContain('the account was disabled).”');
  });

  it('falls back to the generic sentence when nothing (recent) explains it', () => {
    expect(signedOutNotice(null, 5000)).toBe(GENERIC_SIGNED_OUT);
    expect(signedOutNotice(disabled, 1000 + 61_000)).toBe(GENERIC_SIGNED_OUT);
  });

  it('takes only ends that took access away', () => {
    expect(accessEndOf({ kind: 'exited', exitCode: 0, signal: null }, 1)).toBeNull();
    expect(accessEndOf({ kind: 'gateway', cause: 'terminated', message: 'by ada' }, 1)).toBeNull();
    expect(accessEndOf({ kind: 'gateway', cause: 'revoked', message: '' }, 1)?.cause).toBe(
      'revoked',
    );
  });
});
