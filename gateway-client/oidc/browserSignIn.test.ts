import { describe, expect, it } from 'vitest';
import {
  BrowserSignInCancelledError,
  BrowserSignInError,
  signInThroughBrowser,
} from './browserSignIn.ts';

describe('signInThroughBrowser cancelled', () => {
  it('ends the wait when its signal aborts, and closes the loopback listener', async () => {
    const controller = new AbortController();
    let startUrl = '';
    const waiting = signInThroughBrowser({
      gatewayUrl: 'https://127.0.0.1:9',
      provider: 'corp',
      openUrl: (url) => {
        startUrl = url;
        // The person closes the browser and presses Cancel in the desktop instead.
        setTimeout(() => controller.abort(), 10);
      },
      exchange: () => Promise.reject(new Error('no code ever arrives')),
      signal: controller.signal,
    });
    await expect(waiting).rejects.toBeInstanceOf(BrowserSignInCancelledError);
    await expect(waiting).rejects.toBeInstanceOf(BrowserSignInError);
    const redirect = new URL(new URL(startUrl).searchParams.get('redirect_uri') ?? '');
    expect(redirect.hostname).toBe('127.0.0.1');
    // Nothing listens for a late answer any more.
    await expect(fetch(`${redirect.origin}/callback?state=x&code=y`)).rejects.toThrow();
  });

  it('does not start waiting with a signal already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(
      signInThroughBrowser({
        gatewayUrl: 'https://127.0.0.1:9',
        provider: 'corp',
        openUrl: () => {},
        exchange: () => Promise.reject(new Error('unused')),
        signal: controller.signal,
      }),
    ).rejects.toThrow('The sign-in was cancelled.');
  });
});
