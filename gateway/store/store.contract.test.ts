/**
 * One contract for every Store implementation, run against SQLite (temp file) and PostgreSQL
 * (a fresh database on the harness cluster). Anything the rest of the gateway relies on —
 * atomic ticket redemption, refresh-token rotation, cascade on resource delete — is pinned
 * here, so both deployments behave the same.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  describeWithPostgres,
  freshPostgresDatabase,
} from '../../test/harness/postgresForTests.ts';
import { migrations } from './migrations.ts';
import { openPostgresStore, openSqliteStore } from './openStore.ts';
import {
  type AuthTokenRecord,
  type GrantRecord,
  type NewRecording,
  type NewUser,
  type ResourceRecord,
  type SessionRecord,
  type Store,
  StoreConflictError,
  type StoreKind,
} from './store.ts';

/** A place a store lives (a file, a database) that can be opened any number of times. */
interface StoreLocation {
  open(): Promise<Store>;
  dispose(): Promise<void>;
}

/** Realistic epoch ms: beyond 2^31, so an int4 or string round trip would show. */
const T = 1_750_000_000_000;

/** Every migration, by name, in the order applied: each recorded exactly once. */
const ALL_MIGRATIONS = Object.keys(migrations)
  .sort()
  .map((name) => ({ name }));

function newUser(n: number, overrides: Partial<NewUser> = {}): NewUser {
  return {
    id: `usr_${n}`,
    username: `user${n}`,
    role: 'engineer',
    groups: [],
    passwordHash: null,
    createdAt: T + n,
    ...overrides,
  };
}

function resource(n: number, overrides: Partial<ResourceRecord> = {}): ResourceRecord {
  return {
    id: `res_${n}`,
    name: `db-${n}`,
    description: `resource ${n}`,
    kind: 'postgres',
    labels: { env: 'prod' },
    target: { host: '10.0.0.1', port: 5432, database: 'app' },
    secretCiphertext: null,
    secretFields: [],
    policy: { masking: [], guardrails: [] },
    createdAt: T + n,
    updatedAt: T + n,
    ...overrides,
  };
}

function grant(n: number, overrides: Partial<GrantRecord> = {}): GrantRecord {
  return {
    id: `grt_${n}`,
    subjectKind: 'user',
    subject: 'usr_1',
    targetKind: 'resource',
    resourceId: 'res_1',
    selector: null,
    mode: 'standing',
    validFrom: null,
    validUntil: null,
    maxSessionSeconds: 3600,
    description: '',
    policy: { masking: [], guardrails: [] },
    createdBy: 'usr_1',
    createdAt: T + n,
    ...overrides,
  };
}

function session(n: number, overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: `ses_${n}`,
    userId: 'usr_1',
    resourceId: 'res_1',
    grantId: 'grt_1',
    state: 'pending',
    ticketHash: `ticket-${n}`,
    ticketExpiresAt: T + 60_000,
    ticketUsedAt: null,
    createdAt: T + n,
    startedAt: null,
    endedAt: null,
    expiresAt: T + 3_600_000,
    endReason: null,
    ...overrides,
  };
}

function recording(n: number, overrides: Partial<NewRecording> = {}): NewRecording {
  return {
    sessionId: `ses_${n}`,
    userId: 'usr_1',
    resourceId: 'res_1',
    protocol: 'ssh',
    owner: 'gwi_a',
    storage: 'segments',
    startedAt: T + n * 1000,
    ...overrides,
  };
}

function token(n: number, overrides: Partial<AuthTokenRecord> = {}): AuthTokenRecord {
  return {
    tokenHash: `hash-${n}`,
    kind: 'refresh',
    userId: 'usr_1',
    familyId: 'fam_1',
    expiresAt: T + 86_400_000,
    usedAt: null,
    revokedAt: null,
    createdAt: T,
    ...overrides,
  };
}

function describeStoreContract(
  name: StoreKind,
  openFreshLocation: () => Promise<StoreLocation>,
): void {
  describe(`Store contract: ${name}`, () => {
    let location: StoreLocation;
    let opened: Store[];
    let store: Store;

    /** A second store on the same data: another gateway replica, or a restart. */
    async function openAnother(): Promise<Store> {
      const another = await location.open();
      opened.push(another);
      return another;
    }

    beforeEach(async () => {
      location = await openFreshLocation();
      opened = [];
      store = await openAnother();
    });

    afterEach(async () => {
      for (const s of opened) await s.close();
      await location.dispose();
    });

    it('reports its kind', () => {
      expect(store.kind).toBe(name);
    });

    describe('users', () => {
      it('creates a user with defaults and reads it back by id and username', async () => {
        const created = await store.createUser(
          newUser(1, { groups: ['dba', 'on-call'], passwordHash: 'scrypt$abc' }),
        );
        const expected = {
          id: 'usr_1',
          username: 'user1',
          role: 'engineer',
          groups: ['dba', 'on-call'],
          disabled: false,
          passwordHash: 'scrypt$abc',
          totpSecret: null,
          totpPendingSecret: null,
          totpLastStep: null,
          failedLogins: 0,
          lockedUntil: null,
          createdAt: T + 1,
        };
        expect(created).toEqual(expected);
        expect(await store.getUserById('usr_1')).toEqual(expected);
        expect(await store.getUserByUsername('user1')).toEqual(expected);
        expect(typeof created.createdAt).toBe('number');
      });

      it('returns undefined for unknown users', async () => {
        await store.createUser(newUser(1));
        expect(await store.getUserById('usr_404')).toBeUndefined();
        expect(await store.getUserByUsername('nobody')).toBeUndefined();
        expect(await store.getUserByUsername('USER1')).toBeUndefined();
      });

      it('refuses a taken username with a StoreConflictError that says so', async () => {
        await store.createUser(newUser(1, { username: 'alice' }));
        const attempt = store.createUser(newUser(2, { username: 'alice' }));
        await expect(attempt).rejects.toBeInstanceOf(StoreConflictError);
        await expect(attempt).rejects.toMatchObject({
          conflict: 'users.username',
          message: expect.stringContaining('"alice"'),
        });
        expect((await store.listUsers()).map((u) => u.id)).toEqual(['usr_1']);
      });

      it('refuses a reused user id', async () => {
        await store.createUser(newUser(1));
        await expect(store.createUser(newUser(1, { username: 'other' }))).rejects.toMatchObject({
          name: 'StoreConflictError',
          conflict: 'users.id',
        });
      });

      it('lists users ordered by username', async () => {
        await store.createUser(newUser(1, { username: 'carol' }));
        await store.createUser(newUser(2, { username: 'alice' }));
        await store.createUser(newUser(3, { username: 'bob' }));
        expect((await store.listUsers()).map((u) => u.username)).toEqual(['alice', 'bob', 'carol']);
      });

      it('updates every patchable field, and only those given', async () => {
        await store.createUser(newUser(1, { passwordHash: 'old' }));
        await store.createUser(newUser(2));
        const updated = await store.updateUser('usr_1', {
          role: 'admin',
          groups: ['sre'],
          disabled: true,
          totpSecret: 'enc:secret',
          totpPendingSecret: 'enc:pending',
          totpLastStep: 58_333_333,
          failedLogins: 3,
          lockedUntil: T + 900_000,
        });
        const expected = {
          ...(await store.getUserById('usr_2')),
          id: 'usr_1',
          username: 'user1',
          createdAt: T + 1,
          role: 'admin',
          groups: ['sre'],
          disabled: true,
          passwordHash: 'old',
          totpSecret: 'enc:secret',
          totpPendingSecret: 'enc:pending',
          totpLastStep: 58_333_333,
          failedLogins: 3,
          lockedUntil: T + 900_000,
        };
        expect(updated).toEqual(expected);
        expect(await store.getUserById('usr_1')).toEqual(expected);
        // The other user is untouched.
        expect(await store.getUserById('usr_2')).toMatchObject({
          role: 'engineer',
          disabled: false,
        });
      });

      it('clears fields patched to null and flips booleans back', async () => {
        await store.createUser(newUser(1, { passwordHash: 'hash' }));
        await store.updateUser('usr_1', { disabled: true, lockedUntil: T, totpSecret: 'x' });
        const cleared = await store.updateUser('usr_1', {
          disabled: false,
          passwordHash: null,
          lockedUntil: null,
          totpSecret: null,
          groups: [],
        });
        expect(cleared).toMatchObject({
          disabled: false,
          passwordHash: null,
          lockedUntil: null,
          totpSecret: null,
          groups: [],
        });
      });

      it('returns the user unchanged for an empty patch, and undefined for unknown ids', async () => {
        const created = await store.createUser(newUser(1));
        expect(await store.updateUser('usr_1', {})).toEqual(created);
        expect(await store.updateUser('usr_404', { role: 'admin' })).toBeUndefined();
        expect(await store.updateUser('usr_404', {})).toBeUndefined();
      });
    });

    describe('enrollments', () => {
      beforeEach(async () => {
        await store.createUser(newUser(1));
      });

      it('consumes an unused, unexpired enrollment exactly once', async () => {
        await store.createEnrollment({
          tokenHash: 'enr-1',
          userId: 'usr_1',
          expiresAt: T + 1000,
          usedAt: null,
          createdAt: T,
        });
        expect(await store.consumeEnrollment('enr-1', T + 10)).toEqual({
          tokenHash: 'enr-1',
          userId: 'usr_1',
          expiresAt: T + 1000,
          usedAt: T + 10,
          createdAt: T,
        });
        expect(await store.consumeEnrollment('enr-1', T + 20)).toBeUndefined();
      });

      it('refuses unknown and expired enrollments (expiry is exclusive)', async () => {
        await store.createEnrollment({
          tokenHash: 'enr-1',
          userId: 'usr_1',
          expiresAt: T + 1000,
          usedAt: null,
          createdAt: T,
        });
        expect(await store.consumeEnrollment('enr-404', T)).toBeUndefined();
        expect(await store.consumeEnrollment('enr-1', T + 1000)).toBeUndefined();
        // Still usable before expiry: the failed attempts did not mark it.
        expect(await store.consumeEnrollment('enr-1', T + 999)).toMatchObject({ usedAt: T + 999 });
      });

      it('lets only one of several concurrent consumers win, across replicas', async () => {
        await store.createEnrollment({
          tokenHash: 'enr-1',
          userId: 'usr_1',
          expiresAt: T + 1000,
          usedAt: null,
          createdAt: T,
        });
        const replica = await openAnother();
        const results = await Promise.all(
          [store, replica, store, replica].map((s, i) => s.consumeEnrollment('enr-1', T + i)),
        );
        expect(results.filter((r) => r !== undefined)).toHaveLength(1);
      });

      it('refuses an enrollment for an unknown user', async () => {
        await expect(
          store.createEnrollment({
            tokenHash: 'enr-x',
            userId: 'usr_404',
            expiresAt: T + 1000,
            usedAt: null,
            createdAt: T,
          }),
        ).rejects.toThrow();
      });
    });

    describe('auth tokens', () => {
      beforeEach(async () => {
        await store.createUser(newUser(1));
        await store.createUser(newUser(2));
      });

      it('stores and returns tokens', async () => {
        await store.insertAuthToken(token(1, { kind: 'access' }));
        expect(await store.getAuthToken('hash-1')).toEqual(token(1, { kind: 'access' }));
        expect(await store.getAuthToken('hash-404')).toBeUndefined();
        await expect(store.insertAuthToken(token(1))).rejects.toBeInstanceOf(StoreConflictError);
      });

      it('marks a refresh token used only once', async () => {
        await store.insertAuthToken(token(1));
        expect(await store.markAuthTokenUsed('hash-1', T + 5)).toBe(true);
        expect(await store.markAuthTokenUsed('hash-1', T + 6)).toBe(false);
        expect(await store.getAuthToken('hash-1')).toMatchObject({ usedAt: T + 5 });
        expect(await store.markAuthTokenUsed('hash-404', T)).toBe(false);
      });

      it('lets only one of several concurrent rotations win, across replicas', async () => {
        await store.insertAuthToken(token(1));
        const replica = await openAnother();
        const results = await Promise.all(
          [store, replica, store, replica].map((s, i) => s.markAuthTokenUsed('hash-1', T + i)),
        );
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('revokes a whole family and nothing else, keeping the first revocation time', async () => {
        await store.insertAuthToken(token(1, { familyId: 'fam_a' }));
        await store.insertAuthToken(token(2, { familyId: 'fam_a', usedAt: T }));
        await store.insertAuthToken(token(3, { familyId: 'fam_b' }));
        await store.revokeAuthTokenFamily('fam_a', T + 100);
        await store.revokeAuthTokenFamily('fam_a', T + 200);
        expect((await store.getAuthToken('hash-1'))?.revokedAt).toBe(T + 100);
        expect((await store.getAuthToken('hash-2'))?.revokedAt).toBe(T + 100);
        expect((await store.getAuthToken('hash-3'))?.revokedAt).toBeNull();
      });

      it("revokes all of one user's tokens and nothing else", async () => {
        await store.insertAuthToken(token(1, { userId: 'usr_1', familyId: 'fam_a' }));
        await store.insertAuthToken(
          token(2, { userId: 'usr_1', familyId: 'fam_b', kind: 'access' }),
        );
        await store.insertAuthToken(token(3, { userId: 'usr_2', familyId: 'fam_c' }));
        await store.revokeAuthTokensOfUser('usr_1', T + 100);
        expect((await store.getAuthToken('hash-1'))?.revokedAt).toBe(T + 100);
        expect((await store.getAuthToken('hash-2'))?.revokedAt).toBe(T + 100);
        expect((await store.getAuthToken('hash-3'))?.revokedAt).toBeNull();
      });

      it('deletes tokens expired at now (inclusive) and counts them', async () => {
        await store.insertAuthToken(token(1, { expiresAt: T - 1 }));
        await store.insertAuthToken(token(2, { expiresAt: T }));
        await store.insertAuthToken(token(3, { expiresAt: T + 1, usedAt: T - 5 }));
        expect(await store.deleteExpiredAuthTokens(T)).toBe(2);
        expect(await store.getAuthToken('hash-1')).toBeUndefined();
        expect(await store.getAuthToken('hash-2')).toBeUndefined();
        // A used but unexpired refresh token stays, so a replay of it can still be detected.
        expect(await store.getAuthToken('hash-3')).toBeDefined();
        expect(await store.deleteExpiredAuthTokens(T)).toBe(0);
      });
    });

    describe('resources', () => {
      it('round-trips labels, nested target JSON and secret fields', async () => {
        const record = resource(1, {
          kind: 'ssh',
          labels: { env: 'prod', team: 'payments', 'k8s.io/zone': 'eu-1' },
          target: {
            host: 'db.internal',
            port: 22,
            username: 'root',
            options: { compression: true, ciphers: ['aes256-gcm'], jump: null },
            note: 'zoë — ünïcode "quoted"',
          },
          secretCiphertext: 'v1:nonce:ciphertext',
          secretFields: ['password', 'privateKey'],
        });
        await store.createResource(record);
        expect(await store.getResource('res_1')).toEqual(record);
        expect(await store.getResourceByName('db-1')).toEqual(record);
        expect(await store.getResource('res_404')).toBeUndefined();
        expect(await store.getResourceByName('db-404')).toBeUndefined();
      });

      it('refuses a taken resource name', async () => {
        await store.createResource(resource(1, { name: 'prod-db' }));
        await expect(store.createResource(resource(2, { name: 'prod-db' }))).rejects.toMatchObject({
          name: 'StoreConflictError',
          conflict: 'resources.name',
          message: expect.stringContaining('"prod-db"'),
        });
        expect(await store.listResources()).toHaveLength(1);
      });

      it('lists resources ordered by name', async () => {
        await store.createResource(resource(1, { name: 'zeta' }));
        await store.createResource(resource(2, { name: 'alpha' }));
        await store.createResource(resource(3, { name: 'mid' }));
        expect((await store.listResources()).map((r) => r.name)).toEqual(['alpha', 'mid', 'zeta']);
      });

      it('updates only the given fields plus updatedAt', async () => {
        await store.createResource(
          resource(1, { secretCiphertext: 'c', secretFields: ['password'] }),
        );
        const updated = await store.updateResource('res_1', {
          labels: { env: 'staging' },
          secretCiphertext: null,
          secretFields: [],
          updatedAt: T + 500,
        });
        const expected = resource(1, {
          labels: { env: 'staging' },
          secretCiphertext: null,
          secretFields: [],
          updatedAt: T + 500,
        });
        expect(updated).toEqual(expected);
        expect(await store.getResource('res_1')).toEqual(expected);
        const renamed = await store.updateResource('res_1', {
          name: 'renamed',
          description: 'd',
          kind: 'ssh',
          target: { host: 'h', port: 22 },
          updatedAt: T + 600,
        });
        expect(renamed).toEqual({
          ...expected,
          name: 'renamed',
          description: 'd',
          kind: 'ssh',
          target: { host: 'h', port: 22 },
          updatedAt: T + 600,
        });
        expect(await store.updateResource('res_404', { updatedAt: T })).toBeUndefined();
      });

      it('refuses renaming to a taken name', async () => {
        await store.createResource(resource(1));
        await store.createResource(resource(2));
        await expect(
          store.updateResource('res_2', { name: 'db-1', updatedAt: T + 9 }),
        ).rejects.toMatchObject({ name: 'StoreConflictError', conflict: 'resources.name' });
        expect((await store.getResource('res_2'))?.name).toBe('db-2');
      });

      it('deletes a resource with the grants that target it, keeping sessions', async () => {
        await store.createUser(newUser(1));
        await store.createResource(resource(1));
        await store.createResource(resource(2));
        await store.createGrant(grant(1, { resourceId: 'res_1' }));
        await store.createGrant(grant(2, { resourceId: 'res_2' }));
        await store.createGrant(
          grant(3, { targetKind: 'labels', resourceId: null, selector: { env: 'prod' } }),
        );
        await store.createSession(session(1, { resourceId: 'res_1', grantId: 'grt_1' }));

        expect(await store.deleteResource('res_1')).toBe(true);
        expect(await store.getResource('res_1')).toBeUndefined();
        expect((await store.listGrants()).map((g) => g.id)).toEqual(['grt_2', 'grt_3']);
        expect(await store.getSession('ses_1')).toEqual(
          session(1, { resourceId: 'res_1', grantId: 'grt_1' }),
        );
        expect(await store.deleteResource('res_1')).toBe(false);
        expect(await store.getResource('res_2')).toBeDefined();
      });
    });

    describe('grants', () => {
      beforeEach(async () => {
        await store.createUser(newUser(1));
        await store.createResource(resource(1));
      });

      it('round-trips resource and label-selector grants', async () => {
        const byResource = grant(1, {
          validFrom: T,
          validUntil: T + 86_400_000,
          mode: 'approval',
          description: 'on-call',
        });
        const byLabels = grant(2, {
          subjectKind: 'group',
          subject: 'dba',
          targetKind: 'labels',
          resourceId: null,
          selector: { env: 'prod', team: 'payments' },
        });
        await store.createGrant(byResource);
        await store.createGrant(byLabels);
        expect(await store.getGrant('grt_1')).toEqual(byResource);
        expect(await store.getGrant('grt_2')).toEqual(byLabels);
        expect(await store.getGrant('grt_404')).toBeUndefined();
        await expect(store.createGrant(byResource)).rejects.toBeInstanceOf(StoreConflictError);
      });

      it('refuses a grant whose target does not match its kind', async () => {
        await expect(store.createGrant(grant(1, { resourceId: null }))).rejects.toThrow();
        await expect(
          store.createGrant(grant(2, { targetKind: 'labels', resourceId: null, selector: null })),
        ).rejects.toThrow();
        expect(await store.listGrants()).toEqual([]);
      });

      it('lists grants in creation order', async () => {
        await store.createGrant(grant(3, { createdAt: T + 30 }));
        await store.createGrant(grant(1, { createdAt: T + 10 }));
        await store.createGrant(grant(2, { createdAt: T + 20 }));
        expect((await store.listGrants()).map((g) => g.id)).toEqual(['grt_1', 'grt_2', 'grt_3']);
      });

      it('updates only the given fields', async () => {
        await store.createGrant(grant(1, { validUntil: T + 1 }));
        const updated = await store.updateGrant('grt_1', {
          mode: 'approval',
          validFrom: T - 1,
          validUntil: null,
          maxSessionSeconds: 60,
          description: 'narrowed',
        });
        const expected = grant(1, {
          mode: 'approval',
          validFrom: T - 1,
          validUntil: null,
          maxSessionSeconds: 60,
          description: 'narrowed',
        });
        expect(updated).toEqual(expected);
        expect(await store.getGrant('grt_1')).toEqual(expected);
        expect(await store.updateGrant('grt_1', {})).toEqual(expected);
        expect(await store.updateGrant('grt_404', { mode: 'standing' })).toBeUndefined();
      });

      it('deletes a grant once', async () => {
        await store.createGrant(grant(1));
        await store.createGrant(grant(2));
        expect(await store.deleteGrant('grt_1')).toBe(true);
        expect(await store.deleteGrant('grt_1')).toBe(false);
        expect((await store.listGrants()).map((g) => g.id)).toEqual(['grt_2']);
      });
    });

    describe('sessions', () => {
      beforeEach(async () => {
        await store.createUser(newUser(1));
        await store.createUser(newUser(2));
        await store.createResource(resource(1));
        await store.createResource(resource(2));
        await store.createGrant(grant(1));
      });

      it('stores and returns sessions', async () => {
        await store.createSession(session(1));
        expect(await store.getSession('ses_1')).toEqual(session(1));
        expect(await store.getSession('ses_404')).toBeUndefined();
        await expect(store.createSession(session(1))).rejects.toBeInstanceOf(StoreConflictError);
      });

      it('refuses a session for an unknown user', async () => {
        await expect(store.createSession(session(1, { userId: 'usr_404' }))).rejects.toThrow();
      });

      it('lists newest first, filtered by state, user and resource, up to the limit', async () => {
        await store.createSession(session(1, { createdAt: T + 1 }));
        await store.createSession(session(2, { createdAt: T + 2, userId: 'usr_2' }));
        await store.createSession(session(3, { createdAt: T + 3, resourceId: 'res_2' }));
        await store.createSession(session(4, { createdAt: T + 4, state: 'ended', endedAt: T + 5 }));
        await store.createSession(session(5, { createdAt: T + 5, state: 'live' }));
        const ids = async (filter: Parameters<Store['listSessions']>[0]) =>
          (await store.listSessions(filter)).map((s) => s.id);

        expect(await ids({ limit: 100 })).toEqual(['ses_5', 'ses_4', 'ses_3', 'ses_2', 'ses_1']);
        expect(await ids({ limit: 2 })).toEqual(['ses_5', 'ses_4']);
        expect(await ids({ state: 'pending', limit: 100 })).toEqual(['ses_3', 'ses_2', 'ses_1']);
        expect(await ids({ userId: 'usr_2', limit: 100 })).toEqual(['ses_2']);
        expect(await ids({ resourceId: 'res_2', limit: 100 })).toEqual(['ses_3']);
        expect(await ids({ userId: 'usr_1', resourceId: 'res_1', limit: 100 })).toEqual([
          'ses_5',
          'ses_4',
          'ses_1',
        ]);
        expect(await ids({ userId: 'usr_1', state: 'live', limit: 100 })).toEqual(['ses_5']);
        expect(await ids({ userId: 'usr_404', limit: 100 })).toEqual([]);
        // Full records, not just ids.
        expect((await store.listSessions({ state: 'ended', limit: 1 }))[0]).toEqual(
          session(4, { createdAt: T + 4, state: 'ended', endedAt: T + 5 }),
        );
      });

      it('redeems a ticket once: live, started and marked used at now', async () => {
        await store.createSession(session(1));
        const redeemed = await store.redeemTicket('ses_1', 'ticket-1', T + 100);
        const expected = session(1, {
          state: 'live',
          ticketUsedAt: T + 100,
          startedAt: T + 100,
        });
        expect(redeemed).toEqual(expected);
        expect(await store.getSession('ses_1')).toEqual(expected);
        expect(await store.redeemTicket('ses_1', 'ticket-1', T + 101)).toBeUndefined();
        expect(await store.getSession('ses_1')).toEqual(expected);
      });

      it('refuses wrong-hash, expired, unknown and non-pending tickets without touching them', async () => {
        await store.createSession(session(1));
        expect(await store.redeemTicket('ses_1', 'ticket-2', T + 100)).toBeUndefined();
        expect(await store.redeemTicket('ses_404', 'ticket-1', T + 100)).toBeUndefined();
        // Expiry is exclusive: at ticketExpiresAt the ticket is dead.
        expect(await store.redeemTicket('ses_1', 'ticket-1', T + 60_000)).toBeUndefined();
        expect(await store.getSession('ses_1')).toEqual(session(1));

        await store.createSession(session(2));
        await store.endSession('ses_2', 'cancelled', T + 10);
        expect(await store.redeemTicket('ses_2', 'ticket-2', T + 20)).toBeUndefined();
        expect((await store.getSession('ses_2'))?.state).toBe('ended');

        // A ticket already marked used is refused even if the session still reads pending.
        await store.createSession(session(3, { ticketUsedAt: T + 1 }));
        expect(await store.redeemTicket('ses_3', 'ticket-3', T + 20)).toBeUndefined();
        expect(await store.getSession('ses_3')).toEqual(session(3, { ticketUsedAt: T + 1 }));
      });

      it('lets exactly one of several concurrent redemptions win, across replicas', async () => {
        await store.createSession(session(1));
        const replica = await openAnother();
        const attempts = [store, replica, store, replica, store, replica];
        const results = await Promise.all(
          attempts.map((s, i) => s.redeemTicket('ses_1', 'ticket-1', T + 100 + i)),
        );
        const winners = results.filter((r) => r !== undefined);
        expect(winners).toHaveLength(1);
        expect(await store.getSession('ses_1')).toEqual(winners[0]);
      });

      it('ends a session once, keeping the first reason', async () => {
        await store.createSession(session(1));
        await store.redeemTicket('ses_1', 'ticket-1', T + 100);
        const ended = await store.endSession('ses_1', 'client closed', T + 200);
        const expected = session(1, {
          state: 'ended',
          ticketUsedAt: T + 100,
          startedAt: T + 100,
          endedAt: T + 200,
          endReason: 'client closed',
        });
        expect(ended).toEqual(expected);
        expect(await store.endSession('ses_1', 'killed by admin', T + 300)).toBeUndefined();
        expect(await store.getSession('ses_1')).toEqual(expected);
        expect(await store.endSession('ses_404', 'x', T)).toBeUndefined();
      });

      it('ends all open sessions of a grant, a resource or a user, and only those', async () => {
        await store.createSession(session(1));
        await store.createSession(session(2, { grantId: 'grt_2', resourceId: 'res_2' }));
        await store.createSession(
          session(3, { state: 'ended', endedAt: T + 3, endReason: 'done' }),
        );
        await store.createSession(
          session(4, { userId: 'usr_2', grantId: 'grt_2', resourceId: 'res_2' }),
        );
        const byGrant = await store.endOpenSessions({ grantId: 'grt_1' }, 'grant revoked', T + 50);
        expect(byGrant.map((s) => s.id)).toEqual(['ses_1']);
        expect(await store.getSession('ses_3')).toMatchObject({
          endReason: 'done',
          endedAt: T + 3,
        });
        const byUser = await store.endOpenSessions({ userId: 'usr_2' }, 'user disabled', T + 60);
        expect(byUser.map((s) => s.id)).toEqual(['ses_4']);
        const byResource = await store.endOpenSessions(
          { resourceId: 'res_2' },
          'resource deleted',
          T + 70,
        );
        expect(byResource).toEqual([
          session(2, {
            grantId: 'grt_2',
            resourceId: 'res_2',
            state: 'ended',
            endedAt: T + 70,
            endReason: 'resource deleted',
          }),
        ]);
        expect(await store.endOpenSessions({ resourceId: 'res_2' }, 'again', T + 80)).toEqual([]);
      });

      it('ends a pending session, after which its ticket no longer works', async () => {
        await store.createSession(session(1));
        expect(await store.endSession('ses_1', 'grant revoked', T + 5)).toMatchObject({
          state: 'ended',
          startedAt: null,
          endedAt: T + 5,
          endReason: 'grant revoked',
        });
        expect(await store.redeemTicket('ses_1', 'ticket-1', T + 6)).toBeUndefined();
      });

      it('lets exactly one of several concurrent endSession calls win, across replicas', async () => {
        await store.createSession(session(1));
        const replica = await openAnother();
        const results = await Promise.all(
          [store, replica, store, replica].map((s, i) => s.endSession('ses_1', `r${i}`, T + i)),
        );
        const winners = results.filter((r) => r !== undefined);
        expect(winners).toHaveLength(1);
        expect((await store.getSession('ses_1'))?.endReason).toBe(winners[0]?.endReason);
      });
    });

    describe('recordings', () => {
      it('creates a recording row in status recording and reads it back', async () => {
        const created = await store.createRecording(recording(1));
        const expected = {
          sessionId: 'ses_1',
          userId: 'usr_1',
          resourceId: 'res_1',
          protocol: 'ssh',
          status: 'recording',
          owner: 'gwi_a',
          storage: 'segments',
          startedAt: T + 1000,
          endedAt: null,
          frames: 0,
          bytes: 0,
          lastCheckpointSeq: 0,
          lastCheckpointAt: null,
          failureReason: null,
          lastVerification: null,
        };
        expect(created).toEqual(expected);
        expect(await store.getRecording('ses_1')).toEqual(expected);
        expect(await store.getRecording('ses_404')).toBeUndefined();
        await expect(store.createRecording(recording(1))).rejects.toMatchObject({
          name: 'StoreConflictError',
          conflict: 'recordings.session_id',
        });
      });

      it('updates progress only while recording, and finishes once', async () => {
        await store.createRecording(recording(1));
        const progress = {
          frames: 12,
          bytes: 5_000_000_000, // beyond 2^32: a recording can be large
          lastCheckpointSeq: 10,
          lastCheckpointAt: T + 5000,
        };
        expect(await store.updateRecordingProgress('ses_1', progress)).toBe(true);
        expect(await store.getRecording('ses_1')).toMatchObject(progress);

        const finished = await store.finishRecording('ses_1', {
          status: 'complete',
          endedAt: T + 9000,
          progress: { ...progress, frames: 14, lastCheckpointSeq: 14 },
        });
        expect(finished).toMatchObject({ status: 'complete', endedAt: T + 9000, frames: 14 });
        // A late progress write or a second finish changes nothing.
        expect(await store.updateRecordingProgress('ses_1', progress)).toBe(false);
        expect(
          await store.finishRecording('ses_1', { status: 'failed', endedAt: T + 10_000 }),
        ).toBeUndefined();
        expect(await store.getRecording('ses_1')).toMatchObject({
          status: 'complete',
          frames: 14,
          failureReason: null,
        });
        expect(await store.updateRecordingProgress('ses_404', progress)).toBe(false);
      });

      it('keeps the stored progress when a finish gives none, and stores the failure reason', async () => {
        await store.createRecording(recording(1));
        await store.updateRecordingProgress('ses_1', {
          frames: 3,
          bytes: 300,
          lastCheckpointSeq: 2,
          lastCheckpointAt: T + 1500,
        });
        const failed = await store.finishRecording('ses_1', {
          status: 'failed',
          endedAt: T + 2000,
          failureReason: 'ENOSPC',
        });
        expect(failed).toMatchObject({
          status: 'failed',
          frames: 3,
          lastCheckpointSeq: 2,
          failureReason: 'ENOSPC',
        });
      });

      it('lists newest first with every filter', async () => {
        await store.createRecording(recording(1));
        await store.createRecording(recording(2, { userId: 'usr_2', protocol: 'postgres' }));
        await store.createRecording(recording(3, { resourceId: 'res_2' }));
        await store.createRecording(recording(4));
        await store.finishRecording('ses_4', { status: 'complete', endedAt: T + 5000 });
        const ids = async (filter: Partial<Parameters<Store['listRecordings']>[0]>) =>
          (await store.listRecordings({ limit: 100, ...filter })).map((r) => r.sessionId);
        expect(await ids({})).toEqual(['ses_4', 'ses_3', 'ses_2', 'ses_1']);
        expect(await ids({ limit: 2 })).toEqual(['ses_4', 'ses_3']);
        expect(await ids({ userId: 'usr_2' })).toEqual(['ses_2']);
        expect(await ids({ resourceId: 'res_2' })).toEqual(['ses_3']);
        expect(await ids({ status: 'complete' })).toEqual(['ses_4']);
        expect(await ids({ status: 'recording', protocol: 'ssh' })).toEqual(['ses_3', 'ses_1']);
        expect(await ids({ protocol: 'postgres' })).toEqual(['ses_2']);
        expect(await ids({ from: T + 2000, to: T + 3000 })).toEqual(['ses_3', 'ses_2']);
        expect(await ids({ from: T + 3500 })).toEqual(['ses_4']);
        expect(await ids({ to: T + 1000 })).toEqual(['ses_1']);
      });

      it("marks only this instance's unfinished recordings interrupted, across replicas", async () => {
        await store.createRecording(recording(1));
        await store.createRecording(recording(2));
        await store.createRecording(recording(3, { owner: 'gwi_b' }));
        await store.createRecording(recording(4));
        await store.finishRecording('ses_4', { status: 'complete', endedAt: T + 5000 });
        await store.updateRecordingProgress('ses_2', {
          frames: 7,
          bytes: 700,
          lastCheckpointSeq: 7,
          lastCheckpointAt: T + 2500,
        });
        const replica = await openAnother();
        expect(await replica.markUnfinishedRecordingsInterrupted('gwi_a', T + 60_000)).toEqual([
          'ses_1',
          'ses_2',
        ]);
        expect(await store.getRecording('ses_1')).toMatchObject({
          status: 'interrupted',
          endedAt: T + 1000, // never checkpointed: ended when it started, as far as is known
          failureReason: expect.stringContaining('stopped while recording'),
        });
        expect(await store.getRecording('ses_2')).toMatchObject({
          status: 'interrupted',
          endedAt: T + 2500,
        });
        expect((await store.getRecording('ses_3'))?.status).toBe('recording');
        expect((await store.getRecording('ses_4'))?.status).toBe('complete');
        expect(await store.markUnfinishedRecordingsInterrupted('gwi_a', T + 70_000)).toEqual([]);
      });

      it('stores recording chunks and pages through them in order, byte-exact', async () => {
        const chunks = [0, 1, 2, 3, 4].map((n) =>
          Buffer.from(Array.from({ length: 300 + n }, (_, i) => (i * 7 + n) & 0xff)),
        );
        // Written out of order on purpose: reads are ordered by chunk number.
        for (const n of [2, 0, 4, 1, 3]) await store.appendRecordingChunk('ses_1', n, chunks[n]!);
        await store.appendRecordingChunk('ses_2', 0, new Uint8Array([9, 9, 9]));
        const page1 = await store.listRecordingChunks('ses_1', -1, 2);
        expect(page1.map((c) => c.chunkNo)).toEqual([0, 1]);
        const page2 = await store.listRecordingChunks('ses_1', 1, 2);
        expect(page2.map((c) => c.chunkNo)).toEqual([2, 3]);
        const page3 = await store.listRecordingChunks('ses_1', 3, 2);
        expect(page3.map((c) => c.chunkNo)).toEqual([4]);
        expect(await store.listRecordingChunks('ses_1', 4, 2)).toEqual([]);
        const all = [...page1, ...page2, ...page3];
        for (const chunk of all) {
          expect(Buffer.isBuffer(chunk.data)).toBe(true);
          expect(chunk.data.equals(chunks[chunk.chunkNo]!)).toBe(true);
        }
        expect((await store.listRecordingChunks('ses_2', -1, 10))[0]?.data).toEqual(
          Buffer.from([9, 9, 9]),
        );
        await expect(
          store.appendRecordingChunk('ses_1', 3, Buffer.from('again')),
        ).rejects.toBeInstanceOf(StoreConflictError);
      });

      it('audits who read which recording, newest first', async () => {
        await store.insertRecordingAccess({
          id: 'acc_1',
          sessionId: 'ses_1',
          userId: 'usr_1',
          action: 'stream',
          at: T + 1,
        });
        await store.insertRecordingAccess({
          id: 'acc_2',
          sessionId: 'ses_1',
          userId: 'usr_2',
          action: 'export_cast',
          at: T + 2,
        });
        await store.insertRecordingAccess({
          id: 'acc_3',
          sessionId: 'ses_2',
          userId: 'usr_2',
          action: 'export_bundle',
          at: T + 3,
        });
        expect(
          (await store.listRecordingAccess({ sessionId: 'ses_1', limit: 10 })).map((a) => a.id),
        ).toEqual(['acc_2', 'acc_1']);
        expect(await store.listRecordingAccess({ userId: 'usr_2', limit: 1 })).toEqual([
          {
            id: 'acc_3',
            sessionId: 'ses_2',
            userId: 'usr_2',
            action: 'export_bundle',
            at: T + 3,
            detail: null,
          },
        ]);
      });
    });

    describe('opening and migrations', () => {
      it('reopens existing data without re-running migrations', async () => {
        await store.createUser(newUser(1));
        await store.close();
        opened = opened.filter((s) => s !== store);
        const reopened = await openAnother();
        expect(await reopened.getUserById('usr_1')).toMatchObject({ username: 'user1' });
        const third = await openAnother();
        expect(await third.listUsers()).toHaveLength(1);
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------
// SQLite

const sqliteDirs: string[] = [];
afterAll(async () => {
  for (const dir of sqliteDirs) await rm(dir, { recursive: true, force: true });
});

async function freshSqliteFile(): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'witness-store-'));
  sqliteDirs.push(dir);
  return { dir, file: join(dir, 'nested', 'witness.db') };
}

describeStoreContract('sqlite', async () => {
  const { dir, file } = await freshSqliteFile();
  return {
    open: () => openSqliteStore(file),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
});

describe('SQLite specifics', () => {
  it('creates the database owner-only, in WAL mode, with foreign keys on', async () => {
    const { file } = await freshSqliteFile();
    const store = await openSqliteStore(file);
    try {
      await store.createUser(newUser(1)); // forces the WAL file into existence
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      expect((await stat(`${file}-wal`)).mode & 0o777).toBe(0o600);
      const raw = new SqliteDatabase(file, { readonly: true });
      try {
        expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
      } finally {
        raw.close();
      }
    } finally {
      await store.close();
    }
  });

  it('records each migration once however often the file is opened', async () => {
    const { file } = await freshSqliteFile();
    for (let i = 0; i < 3; i++) {
      const store = await openSqliteStore(file);
      await store.createUser(newUser(i));
      await store.close();
    }
    const raw = new SqliteDatabase(file, { readonly: true });
    try {
      const names = raw.prepare('select name from kysely_migration order by name').all();
      expect(names).toEqual(ALL_MIGRATIONS);
      expect(raw.prepare('select count(*) as n from users').get()).toEqual({ n: 3 });
    } finally {
      raw.close();
    }
  });

  it('tightens an existing file to 0600', async () => {
    const { dir } = await freshSqliteFile();
    const file = join(dir, 'loose.db');
    new SqliteDatabase(file).close();
    await chmod(file, 0o644);
    const store = await openSqliteStore(file);
    await store.close();
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('migrates safely when several processes open a new file at once', async () => {
    // Separate processes, as in real life: within one process better-sqlite3 blocks the event
    // loop while it waits for a lock, so two in-process connections cannot take turns.
    const { file } = await freshSqliteFile();
    const results = await openInProcesses(file, 3);
    expect(results).toEqual(['opened', 'opened', 'opened']);
    const raw = new SqliteDatabase(file, { readonly: true });
    try {
      expect(raw.prepare('select name from kysely_migration order by name').all()).toEqual(
        ALL_MIGRATIONS,
      );
    } finally {
      raw.close();
    }
  });

  it('indexes text from several processes at once, each distinct text stored once', async () => {
    // The search index reads (which texts are known) before it writes; its transaction takes
    // the write lock first, so a process that must wait does wait, rather than failing.
    const { file } = await freshSqliteFile();
    const store = await openSqliteStore(file);
    await store.createRecording({
      sessionId: 'ses_1',
      userId: 'usr_1',
      resourceId: 'res_1',
      protocol: 'postgres',
      owner: 'gw_1',
      storage: 'segments',
      startedAt: T,
    });
    await store.close();
    const results = await runInProcesses(
      file,
      3,
      `for (let i = 0; i < 20; i++) {
        await store.insertRecordingText([
          { sessionId: 'ses_1', seq: n * 100 + i, time: 0, channel: 0, kind: 'query', text: 'select 1 as shared' },
          { sessionId: 'ses_1', seq: n * 100 + i, time: 0, channel: 0, kind: 'query', text: 'select ' + i + ' as own' + n },
        ]);
      }`,
    );
    expect(results).toEqual(['opened', 'opened', 'opened']);
    const raw = new SqliteDatabase(file, { readonly: true });
    try {
      const count = (sql: string) => (raw.prepare(sql).get() as { n: number }).n;
      expect(count('select count(*) as n from indexed_texts')).toBe(1 + 3 * 20);
      expect(count('select count(*) as n from recording_text')).toBe(3 * 20 * 2);
    } finally {
      raw.close();
    }
  });

  it('opens an in-memory store', async () => {
    const store = await openSqliteStore(':memory:');
    try {
      await store.createUser(newUser(1));
      expect(await store.listUsers()).toHaveLength(1);
    } finally {
      await store.close();
    }
  });
});

/**
 * Starts `count` node processes that each open the SQLite file once all of them are ready
 * (a stdin barrier, so their migrations overlap), and resolves with what each printed.
 */
function openInProcesses(file: string, count: number): Promise<string[]> {
  return runInProcesses(file, count, '');
}

/**
 * Starts `count` node processes that, once all of them are ready (a stdin barrier, so what
 * they do overlaps), each open the SQLite file and run `work` (JavaScript, with `store` and
 * the process number `n` in scope); resolves with what each printed ('opened' when all went
 * well).
 */
async function runInProcesses(file: string, count: number, work: string): Promise<string[]> {
  const openStoreUrl = new URL('./openStore.ts', import.meta.url).href;
  const script = `
    import { openSqliteStore } from ${JSON.stringify(openStoreUrl)};
    const n = Number(process.env.WITNESS_PROCESS);
    process.stdout.write('ready\\n');
    process.stdin.once('data', async () => {
      try {
        const store = await openSqliteStore(process.env.WITNESS_DB);
        ${work}
        await store.close();
        process.stdout.write('opened');
      } catch (error) {
        process.stdout.write(String(error));
      }
      process.exit(0);
    });
  `;
  const children = Array.from({ length: count }, (_, n) =>
    spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, WITNESS_DB: file, WITNESS_PROCESS: String(n) },
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const outputs = children.map((child) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    const ready = new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('ready\n')) resolve();
      });
    });
    const done = new Promise<string>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', () => resolve(out.replace('ready\n', '')));
    });
    return { child, ready, done };
  });
  await Promise.all(outputs.map((o) => o.ready));
  for (const { child } of outputs) child.stdin.end('go\n');
  return Promise.all(outputs.map((o) => o.done));
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

describeWithPostgres('PostgreSQL store', () => {
  describeStoreContract('postgres', async () => {
    const url = await freshPostgresDatabase();
    return { open: () => openPostgresStore(url), dispose: async () => {} };
  });

  it('parses int8 to numbers only in its own pool, not process-wide', async () => {
    const url = await freshPostgresDatabase();
    const store = await openPostgresStore(url);
    try {
      await store.createUser(newUser(1));
      expect((await store.getUserById('usr_1'))?.createdAt).toBe(T + 1);
      expect(pg.types.getTypeParser(20, 'text')('42')).toBe('42');
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query('select created_at from users');
        expect(rows).toEqual([{ created_at: String(T + 1) }]);
      } finally {
        await client.end();
      }
    } finally {
      await store.close();
    }
  });

  it('migrates safely when several gateways open a new database at once', async () => {
    const url = await freshPostgresDatabase();
    const results = await Promise.allSettled([1, 2, 3, 4].map(() => openPostgresStore(url)));
    const stores = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    try {
      expect(results.map((r) => r.status)).toEqual([
        'fulfilled',
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);
      await stores[0]?.createUser(newUser(1));
      expect(await stores[3]?.getUserByUsername('user1')).toBeDefined();
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query('select name from kysely_migration order by name');
        expect(rows).toEqual(ALL_MIGRATIONS);
      } finally {
        await client.end();
      }
    } finally {
      for (const s of stores) await s.close();
    }
  });

  it('says which database it could not migrate, without the password', async () => {
    const url = new URL(await freshPostgresDatabase());
    url.password = 'wrong-password';
    url.pathname = '/no_such_database';
    const attempt = openPostgresStore(url.toString());
    await expect(attempt).rejects.toThrow(/PostgreSQL database .*no_such_database/);
    await expect(attempt).rejects.not.toThrow(/wrong-password/);
  });
});
