/**
 * Rotating refresh tokens shared between processes (issue #11): `witness tunnel` keeps its
 * sign-in in memory for hours while other `witness` commands renew the same sign-in. Each
 * renewal spends the refresh token; the gateway takes a second use of a spent one for a
 * stolen copy and ends the whole sign-in. Two account lifecycles over one credential file
 * stand for the two processes, against a real gateway whose clock the test moves past the
 * access token's lifetime.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccountLifecycle } from '../../gateway-client/account/accountLifecycle.ts';
import type { AccountProfile } from '../../gateway-client/account/accountPorts.ts';
import { credentialVault } from '../../gateway-client/account/credentialVault.ts';
import { FileCredentialStore } from '../../gateway-client/credentialStore.ts';
import { cliSessionCodec } from '../../gateway-client/profile.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';

const PASSWORD = 'alice-password-1';
const PAST_ACCESS_TOKEN = 16 * 60 * 1000; // the gateway's access tokens live 15 minutes

describe('a sign-in shared by two processes', () => {
  let gw: TestGateway;
  let work: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    await gw.createUser('alice', 'engineer', PASSWORD);
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-rotation-'));
  });
  afterAll(async () => {
    await gw?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** One `witness` process: its own lifecycle over the shared credential file and profile. */
  function processSharing(dir: string, options: { shared: boolean } = { shared: true }) {
    const store = new FileCredentialStore(path.join(dir, 'credentials.json'));
    const profile: AccountProfile = {
      signedInUsername: async () => 'alice',
      recordSignedIn: async () => {},
      recordSignedOut: async () => {},
    };
    const url = gw.gateway.apiUrl;
    return new AccountLifecycle({
      url,
      caPem: gw.gateway.services.keys.caPem,
      caFingerprint: gw.gateway.services.keys.caFingerprint,
      vaultFor: (username) =>
        credentialVault(store, `${url}#${username}`, cliSessionCodec, options),
      profile,
    });
  }

  const storedRefreshToken = async (dir: string) =>
    cliSessionCodec.decode(
      await new FileCredentialStore(path.join(dir, 'credentials.json')).get(
        `${gw.gateway.apiUrl}#alice`,
      ),
    )?.refreshToken;

  it('renews in one process, then in the other, and the sign-in lives on', async () => {
    const dir = path.join(work, 'shared');
    const login = processSharing(dir);
    await login.adopt(await login.login({ username: 'alice', password: PASSWORD }));
    const first = await storedRefreshToken(dir);

    // The tunnel starts and holds the sign-in in memory.
    const tunnel = processSharing(dir);
    expect(await tunnel.resume()).not.toBeNull();
    expect((await tunnel.run((c) => c.me())).username).toBe('alice');

    // Later, `witness whoami` renews it: the tunnel's refresh token is spent now.
    gw.clock.advance(PAST_ACCESS_TOKEN);
    const whoami = processSharing(dir);
    await whoami.resume();
    expect((await whoami.run((c) => c.me())).username).toBe('alice');
    const second = await storedRefreshToken(dir);
    expect(second).not.toBe(first);
    whoami.dispose();

    // The tunnel's next call takes the renewed tokens from the store instead.
    expect((await tunnel.run((c) => c.me())).username).toBe('alice');
    // And its own next renewal spends the stored token, not the one it started with.
    gw.clock.advance(PAST_ACCESS_TOKEN);
    expect((await tunnel.run((c) => c.me())).username).toBe('alice');
    const third = await storedRefreshToken(dir);
    expect(third).not.toBe(second);

    // Another command after that still finds a live sign-in: nothing was ended.
    const later = processSharing(dir);
    await later.resume();
    expect((await later.run((c) => c.me())).username).toBe('alice');
    for (const account of [login, tunnel, later]) account.dispose();
  });

  it('renews once for concurrent calls in one process', async () => {
    const dir = path.join(work, 'concurrent');
    const account = processSharing(dir);
    await account.adopt(await account.login({ username: 'alice', password: PASSWORD }));
    gw.clock.advance(PAST_ACCESS_TOKEN);
    const users = await Promise.all(Array.from({ length: 5 }, () => account.run((c) => c.me())));
    expect(users.map((u) => u.username)).toEqual(Array(5).fill('alice'));
    // A second renewal with a spent token would have ended the sign-in: it still works.
    gw.clock.advance(PAST_ACCESS_TOKEN);
    expect((await account.run((c) => c.me())).username).toBe('alice');
    account.dispose();
  });

  it('without re-reading the store, the old token is a replay that ends the sign-in', async () => {
    // The control: what the tunnel did before, holding its refresh token in memory only.
    const dir = path.join(work, 'unshared');
    const login = processSharing(dir);
    await login.adopt(await login.login({ username: 'alice', password: PASSWORD }));
    const tunnel = processSharing(dir, { shared: false });
    await tunnel.resume();
    gw.clock.advance(PAST_ACCESS_TOKEN);
    const whoami = processSharing(dir);
    await whoami.resume();
    await whoami.run((c) => c.me());
    await expect(tunnel.run((c) => c.me())).rejects.toThrow(/expired/);
    // The gateway ended the whole sign-in: the process that renewed correctly is out too.
    await expect(whoami.run((c) => c.me())).rejects.toThrow(/access token is not valid/);
    for (const account of [login, tunnel, whoami]) account.dispose();
  });
});
