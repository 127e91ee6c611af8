/**
 * The identity store's contract, on SQLite and PostgreSQL (fixtures/storeContract.ts).
 * Users, enrollments and access/refresh tokens (identityStore.ts): refresh-token rotation and
 * one-time enrollment stay atomic across replicas.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { describeStoreContract, newUser, T, token } from './fixtures/storeContract.ts';
import type { Store } from './store.ts';
import { StoreConflictError } from './storeConflictError.ts';

describeStoreContract('identity', (underTest) => {
  let store: Store;
  const openAnother = () => underTest.openAnother();
  beforeEach(() => {
    store = underTest.store;
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

    it('spends every unused enrollment of one user, and only theirs', async () => {
      await store.createUser(newUser(2));
      for (const [tokenHash, userId] of [
        ['enr-1', 'usr_1'],
        ['enr-2', 'usr_1'],
        ['enr-3', 'usr_2'],
      ] as const) {
        await store.createEnrollment({
          tokenHash,
          userId,
          expiresAt: T + 1000,
          usedAt: null,
          createdAt: T,
        });
      }
      await store.spendEnrollmentsOfUser('usr_1', T + 5);
      expect(await store.consumeEnrollment('enr-1', T + 10)).toBeUndefined();
      expect(await store.consumeEnrollment('enr-2', T + 10)).toBeUndefined();
      expect(await store.consumeEnrollment('enr-3', T + 10)).toMatchObject({ userId: 'usr_2' });
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
      await store.insertAuthToken(token(2, { userId: 'usr_1', familyId: 'fam_b', kind: 'access' }));
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
});
