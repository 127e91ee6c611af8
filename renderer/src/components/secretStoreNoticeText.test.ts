import { describe, expect, it } from 'vitest';
import { noticeDismissed, secretStoreNoticeText } from './secretStoreNoticeText.ts';

const dbusReason =
  'The OS keychain is unavailable (Cannot autolaunch D-Bus without X11 $DISPLAY) and system ' +
  'encryption is not available either; your sign-in is kept in memory only, so you will need ' +
  'to sign in again after a restart.';

describe('the sign-in storage notice', () => {
  it('says nothing when the keychain works', () => {
    expect(secretStoreNoticeText({ kind: 'keychain', durable: true, notice: null })).toBeNull();
  });

  it('memory only: plain words up front, the D-Bus reason only in the details', () => {
    const text = secretStoreNoticeText({ kind: 'memory', durable: false, notice: dbusReason });
    expect(text?.title).toBe('Sign-in not saved on this computer');
    expect(`${text?.title} ${text?.body}`).not.toMatch(/D-Bus|keychain|X11|encryption/);
    expect(text?.body).toMatch(/sign in again each time Witness starts/);
    expect(text?.details).toBe(dbusReason);
  });

  it('an encrypted file: says the sign-in survives a restart', () => {
    const text = secretStoreNoticeText({
      kind: 'encrypted-file',
      durable: true,
      notice: 'The OS keychain is unavailable (org.freedesktop.secrets was not provided)…',
    });
    expect(text?.body).toMatch(/You stay signed in after a restart/);
    expect(text?.body).not.toMatch(/freedesktop/);
  });

  it('a dismissal holds for that kind of store only', () => {
    const memory = { kind: 'memory', durable: false, notice: dbusReason } as const;
    expect(noticeDismissed(memory, null)).toBe(false);
    expect(noticeDismissed(memory, 'memory')).toBe(true);
    expect(noticeDismissed(memory, 'encrypted-file')).toBe(false);
  });
});
