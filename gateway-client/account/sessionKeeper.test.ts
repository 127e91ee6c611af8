/**
 * The keeper's rules for a vault other processes share, with a vault in memory and a renewal
 * that issues numbered tokens (the real gateway's side is in
 * test/integration/accountRotation.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TokenPair } from '../../shared/api/apiSchemas.ts';
import { GatewayApiError, SessionExpiredError } from '../gatewayClient.ts';
import type { SessionVault, StoredSession } from './accountPorts.ts';
import { fileRenewalLock } from './renewalLock.ts';
import { SessionKeeper, SessionNotSavedError } from './sessionKeeper.ts';

const LATER = '2099-01-01T00:00:00.000Z';

function session(n: number, access = true): StoredSession {
  return {
    refreshToken: `wrt_${n}`,
    refreshExpiresAt: LATER,
    accessToken: access ? `wat_${n}` : null,
    accessExpiresAt: access ? LATER : null,
    user: { userId: 'usr_1', username: 'alice', role: 'engineer' },
  };
}

function memoryVault(shared: boolean, initial: StoredSession | null) {
  let stored = initial;
  let failSaves = false;
  const vault: SessionVault = {
    describe: 'memory',
    shared,
    // Reads and writes take a turn of the event loop, as a keychain or a file would.
    load: async () => {
      await new Promise((resolve) => setImmediate(resolve));
      return stored;
    },
    async save(next) {
      if (failSaves) throw new Error('disk full');
      stored = next;
    },
    async clear() {
      stored = null;
    },
  };
  return {
    vault,
    stored: () => stored,
    set: (next: StoredSession | null) => {
      stored = next;
    },
    failSaves: () => {
      failSaves = true;
    },
  };
}

/** A gateway's refresh endpoint in miniature: each token works once. */
function renewals(first = 1) {
  const spent: string[] = [];
  let next = first;
  return {
    spent,
    async renew(refreshToken: string): Promise<TokenPair> {
      if (spent.includes(refreshToken)) {
        throw new GatewayApiError(401, {
          code: 'unauthenticated',
          message: 'already refreshed elsewhere',
        });
      }
      spent.push(refreshToken);
      await new Promise((resolve) => setTimeout(resolve, 5));
      next += 1;
      return {
        accessToken: `wat_${next}`,
        accessExpiresAt: LATER,
        refreshToken: `wrt_${next}`,
        refreshExpiresAt: LATER,
        user: {
          id: 'usr_1',
          username: 'alice',
          role: 'engineer',
          groups: [],
          disabled: false,
          totpEnabled: false,
          createdAt: LATER,
        },
      };
    },
  };
}

const keeper = (vault: SessionVault, start: StoredSession, renew: ReturnType<typeof renewals>) =>
  new SessionKeeper({
    vault,
    baseUrl: 'https://gw.test',
    session: start,
    stored: true,
    renew: (token) => renew.renew(token),
  });

describe('SessionKeeper', () => {
  it('takes the tokens another process stored, and ends when it signed out', async () => {
    const store = memoryVault(true, session(1));
    const keep = keeper(store.vault, session(1), renewals());
    expect(await keep.tokens()).toEqual({ accessToken: 'wat_1', refreshToken: 'wrt_1' });
    store.set(session(7));
    expect(await keep.tokens()).toEqual({ accessToken: 'wat_7', refreshToken: 'wrt_7' });
    store.set(null);
    expect(await keep.tokens()).toBeNull();
  });

  it('renews once when concurrent calls find no access token, and stores the result', async () => {
    const store = memoryVault(false, session(1, false));
    const renew = renewals(1);
    const keep = keeper(store.vault, session(1, false), renew);
    const all = await Promise.all([keep.tokens(), keep.tokens(), keep.tokens()]);
    expect(all.map((t) => t?.refreshToken)).toEqual(['wrt_2', 'wrt_2', 'wrt_2']);
    expect(renew.spent).toEqual(['wrt_1']);
    expect(store.stored()?.refreshToken).toBe('wrt_2');
  });

  it('says so when a renewal cannot be stored, and when the gateway refuses one', async () => {
    const store = memoryVault(true, session(1, false));
    store.failSaves();
    const keep = keeper(store.vault, session(1, false), renewals(1));
    await expect(keep.tokens()).rejects.toBeInstanceOf(SessionNotSavedError);

    const spent = renewals(1);
    spent.spent.push('wrt_1');
    const refused = keeper(memoryVault(false, null).vault, session(1, false), spent);
    await expect(refused.tokens()).rejects.toBeInstanceOf(SessionExpiredError);
    // The host decides what a refused sign-in means: the keeper still holds it.
    expect(refused.session()?.refreshToken).toBe('wrt_1');
  });
});

describe('SessionKeeper across processes', () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'witness-keeper-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  /** Two processes' keepers over one stored sign-in, both holding its access token `wat_1`. */
  function twoProcesses(lock: boolean) {
    const store = memoryVault(true, session(1));
    const renew = renewals(1);
    const lockPath = path.join(work, `lock-${Math.random().toString(36).slice(2)}`);
    // Each process has its own lock object over the same lock directory, as two CLIs do.
    const vaultOf = (): SessionVault =>
      lock ? { ...store.vault, lock: fileRenewalLock(lockPath) } : store.vault;
    return {
      store,
      renew,
      tunnel: keeper(vaultOf(), session(1), renew),
      whoami: keeper(vaultOf(), session(1), renew),
    };
  }

  it('renews once when two processes find the same access token expired at once', async () => {
    const { store, renew, tunnel, whoami } = twoProcesses(true);
    const [a, b] = await Promise.all([tunnel.renewExpired('wat_1'), whoami.renewExpired('wat_1')]);
    // One renewed; the other found its tokens in the store under the lock and used them.
    expect(renew.spent).toEqual(['wrt_1']);
    expect(a).toEqual({ accessToken: 'wat_2', refreshToken: 'wrt_2' });
    expect(b).toEqual(a);
    expect(store.stored()?.refreshToken).toBe('wrt_2');
    // Both renew the next expiry from the stored token: still one renewal per expiry.
    await Promise.all([tunnel.renewExpired('wat_2'), whoami.renewExpired('wat_2')]);
    expect(renew.spent).toEqual(['wrt_1', 'wrt_2']);
  });

  it('without the lock, the second renewal spends a spent token (the control)', async () => {
    const { tunnel, whoami } = twoProcesses(false);
    const results = await Promise.allSettled([
      tunnel.renewExpired('wat_1'),
      whoami.renewExpired('wat_1'),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const refused = results.find((r) => r.status === 'rejected');
    expect(refused?.reason).toBeInstanceOf(SessionExpiredError);
  });

  it('renews with the stored token after another process rotated it, not its own', async () => {
    const { store, renew, tunnel } = twoProcesses(true);
    store.set(session(5));
    expect(await tunnel.renewExpired('wat_5')).toEqual({
      accessToken: 'wat_2',
      refreshToken: 'wrt_2',
    });
    expect(renew.spent).toEqual(['wrt_5']);
  });
});
