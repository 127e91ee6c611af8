/**
 * The catalog store's contract, on SQLite and PostgreSQL (fixtures/storeContract.ts).
 * Resources and grants (catalogStore.ts): JSON fields round-trip, names stay unique, a
 * resource takes the grants that target it with it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import {
  describeStoreContract,
  grant,
  newUser,
  resource,
  session,
  T,
} from './fixtures/storeContract.ts';
import type { Store } from './store.ts';
import { StoreConflictError } from './storeConflictError.ts';

describeStoreContract('catalog', (underTest) => {
  let store: Store;
  const _openAnother = () => underTest.openAnother();
  beforeEach(() => {
    store = underTest.store;
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
});
