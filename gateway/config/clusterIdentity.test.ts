import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import {
  describeWithPostgres,
  freshPostgresDatabase,
} from '../../test/harness/postgresForTests.ts';
import { loadOrCreateSshHostKey } from '../proxy/ssh/sshHostKey.ts';
import { openPostgresStore } from '../store/openStore.ts';
import type { Store } from '../store/store.ts';
import { loadOrCreateClusterIdentity, rotateRecordingKey } from './clusterIdentity.ts';
import { loadOrInitDataDir } from './dataDir.ts';
import { readSealingKey } from './sealingKey.ts';

const SEALING_KEY = Buffer.alloc(32, 1);
const OTHER_SEALING_KEY = Buffer.alloc(32, 2);

describeWithPostgres('cluster identity in PostgreSQL (issue #17)', () => {
  let url: string;
  const stores: Store[] = [];
  const dirs: string[] = [];
  const open = async () => {
    const store = await openPostgresStore(url);
    stores.push(store);
    return store;
  };
  const tempDir = () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-cluster-'));
    dirs.push(dir);
    return dir;
  };

  beforeEach(async () => {
    url = await freshPostgresDatabase();
  });
  afterEach(async () => {
    for (const store of stores.splice(0)) await store.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('gives two replicas starting at once the same identity, each its own server certificate', async () => {
    const [a, b] = await Promise.all([open(), open()]);
    const [one, two] = await Promise.all([
      loadOrCreateClusterIdentity(a, SEALING_KEY, { dataDir: tempDir() }),
      loadOrCreateClusterIdentity(b, SEALING_KEY, { dataDir: tempDir() }),
    ]);
    expect(two.caFingerprint).toBe(one.caFingerprint);
    expect(two.clientCaCertPem).toBe(one.clientCaCertPem);
    expect(two.sshHostKey.publicKeyLine).toBe(one.sshHostKey.publicKeyLine);
    expect(two.masterKey.equals(one.masterKey)).toBe(true);
    expect(two.recordingKey.keyId).toBe(one.recordingKey.keyId);
    expect(one.recordingKeys.map((k) => k.keyId)).toEqual([one.recordingKey.keyId]);
    // Leaves differ, but both chain to the one CA clients pin.
    expect(two.serverCertPem).not.toBe(one.serverCertPem);
    const ca = new X509Certificate(one.caCertPem);
    expect(new X509Certificate(two.serverCertPem).checkIssued(ca)).toBe(true);
    // A third start later reads what is stored and creates nothing.
    const three = await loadOrCreateClusterIdentity(await open(), SEALING_KEY, {
      dataDir: tempDir(),
    });
    expect(three.caFingerprint).toBe(one.caFingerprint);
    expect(three.created).toEqual([]);
    expect(one.created.length + two.created.length).toBe(4); // recording keys are not listed
  });

  it('stores nothing readable without the sealing key, and says so to a replica with another key', async () => {
    const store = await open();
    const identity = await loadOrCreateClusterIdentity(store, SEALING_KEY, { dataDir: tempDir() });
    const master = await store.getClusterSecret('master-key');
    expect(master?.sealed).not.toContain(identity.masterKey.toString('base64'));
    const caKey = await store.getClusterSecret('tls-ca');
    expect(caKey?.publicPart).toBe(identity.caCertPem);
    expect(caKey?.sealed).not.toContain('PRIVATE KEY');
    await expect(
      loadOrCreateClusterIdentity(store, OTHER_SEALING_KEY, { dataDir: tempDir() }),
    ).rejects.toThrow(/sealing key .* is not the one the cluster was created with/);
  });

  it('a sealed value copied to another name does not open there', async () => {
    const store = await open();
    await loadOrCreateClusterIdentity(store, SEALING_KEY, { dataDir: tempDir() });
    const other = await openPostgresStore(await freshPostgresDatabase());
    stores.push(other);
    const master = await store.getClusterSecret('master-key');
    // The attacker puts a known sealed value (the master key) where the SSH host key belongs.
    await other.addClusterSecretIfAbsent({
      ...(master as NonNullable<typeof master>),
      name: 'ssh-host-key',
    });
    await expect(
      loadOrCreateClusterIdentity(other, SEALING_KEY, { dataDir: tempDir() }),
    ).rejects.toThrow(/Cannot open ssh-host-key/);
  });

  it('rotates the recording key: the new one signs, every earlier one stays in the set', async () => {
    const store = await open();
    const first = await loadOrCreateClusterIdentity(store, SEALING_KEY, { dataDir: tempDir() });
    const rotated = await rotateRecordingKey(store, SEALING_KEY);
    expect(rotated.keyId).not.toBe(first.recordingKey.keyId);
    const after = await loadOrCreateClusterIdentity(store, SEALING_KEY, { dataDir: tempDir() });
    expect(after.recordingKey.keyId).toBe(rotated.keyId);
    expect(after.recordingKeys.map((k) => k.keyId)).toEqual([
      first.recordingKey.keyId,
      rotated.keyId,
    ]);
    // The CA, host key and master key are untouched by a recording key rotation.
    expect(after.caFingerprint).toBe(first.caFingerprint);
    expect(after.masterKey.equals(first.masterKey)).toBe(true);
  });

  it('refuses to rotate before the cluster has an identity', async () => {
    await expect(rotateRecordingKey(await open(), SEALING_KEY)).rejects.toThrow(
      /no cluster identity yet/,
    );
  });

  it("publishes a single gateway's existing keys, so its pinned CA and sealed secrets stay valid", async () => {
    const dataDir = tempDir();
    const local = loadOrInitDataDir(dataDir);
    const hostKey = loadOrCreateSshHostKey(dataDir);
    const identity = await loadOrCreateClusterIdentity(await open(), SEALING_KEY, { dataDir });
    expect(identity.caFingerprint).toBe(local.caFingerprint);
    expect(identity.masterKey.equals(local.masterKey)).toBe(true);
    expect(identity.recordingKey.keyId).toBe(local.recordingKey.keyId);
    expect(identity.sshHostKey.publicKeyLine).toBe(hostKey.publicKeyLine);
    expect(identity.clientCaCertPem).toBe(local.clientCaCertPem);
  });

  it('refuses a WITNESS_MASTER_KEY that differs from the stored master key', async () => {
    const store = await open();
    await loadOrCreateClusterIdentity(store, SEALING_KEY, { dataDir: tempDir() });
    await expect(
      loadOrCreateClusterIdentity(store, SEALING_KEY, {
        dataDir: tempDir(),
        masterKeyBase64: Buffer.alloc(32, 9).toString('base64'),
      }),
    ).rejects.toThrow(/WITNESS_MASTER_KEY differs/);
  });

  it('writes the public CA certificate into the replica data directory', async () => {
    const dataDir = tempDir();
    const identity = await loadOrCreateClusterIdentity(await open(), SEALING_KEY, { dataDir });
    expect(readFileSync(path.join(dataDir, 'tls', 'ca.crt'), 'utf8')).toBe(identity.caCertPem);
  });
});

it('asks for a sealing key, saying how to make one', () => {
  expect(() => readSealingKey({})).toThrow(/--sealing-key-file FILE or set WITNESS_SEALING_KEY/);
  expect(() => readSealingKey({ env: 'c2hvcnQ=' })).toThrow(
    /WITNESS_SEALING_KEY decodes to 5 bytes/,
  );
  expect(readSealingKey({ env: SEALING_KEY.toString('base64') }).equals(SEALING_KEY)).toBe(true);
});
