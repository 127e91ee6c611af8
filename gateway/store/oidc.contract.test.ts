/**
 * The identity-provider and machine-identity stores' contract (oidcStore.ts,
 * machineIdentityStore.ts; issue #18), on SQLite and PostgreSQL: providers round-trip and keep
 * their names unique, a sign-in state, a one-time code and a workload token's jti each work
 * once, provider accounts link to one user, and a machine's session keeps its principal.
 */
import { beforeEach, expect, it } from 'vitest';
import {
  describeStoreContract,
  grant,
  newUser,
  resource,
  session,
  T,
} from './fixtures/storeContract.ts';
import type { OidcProviderRecord } from './oidcStore.ts';
import type { Store } from './store.ts';
import { StoreConflictError } from './storeConflictError.ts';

const provider = (overrides: Partial<OidcProviderRecord> = {}): OidcProviderRecord => ({
  id: 'idp_1',
  name: 'corp',
  displayName: 'Corp',
  issuer: 'https://idp.example.com',
  clientId: 'witness',
  clientSecret: 'v1.sealed',
  scopes: ['openid', 'offline_access'],
  groupsClaim: 'groups',
  createdAt: T,
  updatedAt: T,
  ...overrides,
});

describeStoreContract('identity providers and machine identities', (underTest) => {
  let store: Store;
  beforeEach(() => {
    store = underTest.store;
  });

  it('keeps providers, unique by name, and edits them', async () => {
    await store.createOidcProvider(provider());
    expect(await store.getOidcProviderByName('corp')).toEqual(provider());
    await expect(store.createOidcProvider(provider({ id: 'idp_2' }))).rejects.toBeInstanceOf(
      StoreConflictError,
    );
    const edited = await store.updateOidcProvider('idp_1', {
      updatedAt: T + 1,
      scopes: ['openid'],
    });
    expect(edited).toEqual(provider({ updatedAt: T + 1, scopes: ['openid'] }));
    expect(await store.listOidcProviders()).toHaveLength(1);
    expect(await store.deleteOidcProvider('idp_1')).toBe(true);
    expect(await store.getOidcProvider('idp_1')).toBeUndefined();
  });

  it('spends a sign-in state and a one-time code once each', async () => {
    await store.insertOidcLogin({
      stateHash: 'h1',
      providerId: 'idp_1',
      codeVerifier: 'v1.sealed',
      nonce: 'n',
      clientRedirectUri: 'http://127.0.0.1:5000/cb',
      clientState: 'cs',
      clientCodeChallenge: 'cc',
      expiresAt: T + 600_000,
      usedAt: null,
      createdAt: T,
    });
    expect(await store.markOidcLoginUsed('h1', T + 1)).toBe(true);
    expect(await store.markOidcLoginUsed('h1', T + 2)).toBe(false);
    expect((await store.getOidcLogin('h1'))?.usedAt).toBe(T + 1);
    await store.insertOidcCode({
      codeHash: 'c1',
      userId: 'usr_1',
      providerId: 'idp_1',
      subject: 'alice',
      clientRedirectUri: 'http://127.0.0.1:5000/cb',
      clientCodeChallenge: 'cc',
      providerRefreshToken: null,
      expiresAt: T + 60_000,
      usedAt: null,
      createdAt: T,
    });
    const both = await Promise.all([
      store.markOidcCodeUsed('c1', T + 1),
      store.markOidcCodeUsed('c1', T + 1),
    ]);
    expect(both.filter(Boolean)).toHaveLength(1);
    expect(await store.deleteExpiredOidcGrants(T + 3_600_000)).toBe(2);
  });

  it('links a provider account to one user and keeps the provider behind a sign-in', async () => {
    await store.linkOidcIdentity('idp_1', 'alice', 'usr_1', T);
    expect(await store.getOidcIdentity('idp_1', 'alice')).toBe('usr_1');
    await expect(store.linkOidcIdentity('idp_1', 'alice', 'usr_2', T)).rejects.toBeInstanceOf(
      StoreConflictError,
    );
    const signIn = {
      familyId: 'fam_1',
      userId: 'usr_1',
      providerId: 'idp_1',
      subject: 'alice',
      providerRefreshToken: 'v1.rt',
      checkedAt: T,
      createdAt: T,
    };
    await store.insertOidcSignIn(signIn);
    await store.updateOidcSignIn('fam_1', { checkedAt: T + 5, providerRefreshToken: 'v1.rt2' });
    expect(await store.listOidcSignInsOfUser('usr_1')).toEqual([
      { ...signIn, checkedAt: T + 5, providerRefreshToken: 'v1.rt2' },
    ]);
    // One of two replicas takes the next check.
    const claims = await Promise.all([
      store.claimOidcSignInCheck('fam_1', T + 5, T + 10),
      store.claimOidcSignInCheck('fam_1', T + 5, T + 10),
    ]);
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect((await store.getOidcSignIn('fam_1'))?.checkedAt).toBe(T + 10);
    await store.deleteOidcSignIn('fam_1');
    expect(await store.getOidcSignIn('fam_1')).toBeUndefined();
  });

  it('keeps machine identities, spends each jti once, and a session keeps its principal', async () => {
    const user = await store.createUser(newUser(1, { username: 'ci-deploy' }));
    const identity = {
      id: 'mid_1',
      name: 'ci-deploy',
      userId: user.id,
      issuer: 'https://token.actions.githubusercontent.com',
      audience: 'witness',
      claims: { repository: 'acme/app' },
      createdAt: T,
    };
    await store.createMachineIdentity(identity);
    expect(await store.getMachineIdentityByName('ci-deploy')).toEqual(identity);
    await expect(store.createMachineIdentity({ ...identity, id: 'mid_2' })).rejects.toBeInstanceOf(
      StoreConflictError,
    );
    expect(await store.spendMachineToken(identity.issuer, 'jti-1', T + 60_000)).toBe(true);
    expect(await store.spendMachineToken(identity.issuer, 'jti-1', T + 60_000)).toBe(false);
    expect(await store.spendMachineToken('https://other.example', 'jti-1', T + 60_000)).toBe(true);
    await store.insertMachineSignIn({
      familyId: 'fam_m',
      identityId: 'mid_1',
      claims: { repository: 'acme/app', run_id: '7' },
      createdAt: T,
    });
    expect((await store.getMachineSignIn('fam_m'))?.claims).toEqual({
      repository: 'acme/app',
      run_id: '7',
    });
    await store.createResource(resource(1));
    await store.createGrant(grant(1));
    const principal = JSON.stringify({ kind: 'machine', identity: 'ci-deploy', claims: {} });
    await store.createSession(session(1, { userId: user.id, principal }));
    expect((await store.getSession('ses_1'))?.principal).toBe(principal);
    expect(await store.deleteMachineIdentity('mid_1')).toBe(true);
  });
});
