/**
 * One identity for every gateway replica on one PostgreSQL database (issue #17).
 *
 * With `--database-url`, the CA desktops pin, the client CA of database certificates, the SSH
 * host key, the master key and the recording keys are not files of one replica's data
 * directory but rows of `cluster_secrets`, their secret halves sealed (secretBox, AES-256-GCM)
 * under a key each replica is given from outside (`--sealing-key-file`, `WITNESS_SEALING_KEY`)
 * and which is never stored in the database. So a replica started with the same database and
 * sealing key serves with the same identity, and a client that pinned one replica's CA or host
 * key trusts them all; a copy of the database alone opens nothing.
 *
 * Creation is race-safe without a lock: each piece is inserted with ON CONFLICT DO NOTHING and
 * then read back, so two replicas starting at once both serve with whichever row won. The
 * listeners' server certificate is not shared: each replica issues its own from the shared CA
 * at start (clients pin the CA, never the leaf).
 *
 * Recording keys are kept by generation (`recording-key:000001`, …): the newest signs, every
 * generation stays for verification (a recording names its key id in its header and
 * checkpoints). `rotateRecordingKey` adds the next generation, again first-writer-wins.
 *
 * An existing single-gateway deployment moving to this keeps its identity: on the first start
 * the pieces its data directory already holds are what gets published, so its pinned CA, host
 * key and master key (which sealed every stored target secret) stay valid.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateEd25519KeyPair } from '../../shared/ssh/sshKeyPair.ts';
import { SSH_HOST_KEY_FILE, type SshHostKey, sshHostKeyOf } from '../proxy/ssh/sshHostKey.ts';
import { openSecret, sealSecret } from '../secrets/secretBox.ts';
import type { ClusterSecretRecord, ClusterSecretStore } from '../store/clusterSecretStore.ts';
import {
  decodeMasterKey,
  type GatewayKeyMaterial,
  loadOrInitDataDir,
  type RecordingKey,
  recordingKeyOf,
} from './dataDir.ts';
import {
  createCertificateAuthority,
  fingerprintOfCertificate,
  issueServerCertificate,
  type PemCertificateAndKey,
} from './tlsCertificates.ts';

export interface ClusterIdentity extends GatewayKeyMaterial {
  sshHostKey: SshHostKey;
  /** Every recording key generation, oldest first; the last is `recordingKey`, which signs. */
  recordingKeys: RecordingKey[];
}

export interface ClusterIdentityOptions {
  /** This replica's data directory: seeds a new cluster's identity when it already has one. */
  dataDir: string;
  /** Names clients use to reach this replica (and the load balancer), for its server certificate. */
  hostnames?: string[] | undefined;
  /** `WITNESS_MASTER_KEY`: seeds a new cluster's master key; must match an existing one. */
  masterKeyBase64?: string | undefined;
  now?: Date;
}

const NAMES = {
  ca: 'tls-ca',
  clientCa: 'tls-client-ca',
  sshHostKey: 'ssh-host-key',
  masterKey: 'master-key',
  recordingKeyPrefix: 'recording-key:',
} as const;

/** Where operators and tests find the pinned CA certificate (public) on each replica. */
const PUBLIC_CA_FILE = 'tls/ca.crt';

type Store = Pick<
  ClusterSecretStore,
  'addClusterSecretIfAbsent' | 'getClusterSecret' | 'listClusterSecrets'
>;

export async function loadOrCreateClusterIdentity(
  store: Store,
  sealingKey: Buffer,
  options: ClusterIdentityOptions,
): Promise<ClusterIdentity> {
  const now = options.now ?? new Date();
  const sealer = new Sealer(store, sealingKey, now);
  // Only consulted when the cluster has no identity yet: an upgrade keeps what it had.
  const seed = new LocalSeed(options.dataDir, options.masterKeyBase64);

  const ca = await sealer.pair(NAMES.ca, () => seed.ca() ?? createCertificateAuthority({ now }));
  const clientCa = await sealer.pair(
    NAMES.clientCa,
    () => seed.clientCa() ?? createCertificateAuthority({ now, commonName: 'Witness Client CA' }),
  );
  const hostKeyText = await sealer.secret(
    NAMES.sshHostKey,
    () => seed.sshHostKey() ?? generateEd25519KeyPair('witness-gateway').private,
  );
  const masterKeyText = await sealer.secret(
    NAMES.masterKey,
    () => seed.masterKey() ?? randomBytes(32).toString('base64'),
  );
  const masterKey = decodeMasterKey(masterKeyText, 'the cluster master key');
  if (
    options.masterKeyBase64 !== undefined &&
    !decodeMasterKey(options.masterKeyBase64, 'WITNESS_MASTER_KEY').equals(masterKey)
  ) {
    throw new Error(
      'WITNESS_MASTER_KEY differs from the master key this cluster already uses (stored sealed in the database). Unset WITNESS_MASTER_KEY: with --database-url the replicas share the stored key.',
    );
  }

  let recordingKeys = await readRecordingKeys(store, sealingKey);
  if (recordingKeys.length === 0) {
    await addRecordingKeyGeneration(store, sealingKey, 1, seed.recordingKey(), now);
    recordingKeys = await readRecordingKeys(store, sealingKey);
  }
  const recordingKey = recordingKeys.at(-1) as RecordingKey;

  // Each replica's own leaf from the shared CA, in memory: it holds no secret worth sharing.
  const server = issueServerCertificate(ca, {
    hostnames: options.hostnames ?? [],
    ipAddresses: [],
    now,
  });
  publishCaCertificate(options.dataDir, ca.certPem);
  return {
    caCertPem: ca.certPem,
    caKeyPem: ca.keyPem,
    caFingerprint: fingerprintOfCertificate(ca.certPem),
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
    serverChainPem: `${withNewline(server.certPem)}${withNewline(ca.certPem)}`,
    clientCaCertPem: clientCa.certPem,
    clientCaKeyPem: clientCa.keyPem,
    recordingKey,
    recordingKeys,
    masterKey,
    sshHostKey: sshHostKeyOf(hostKeyText, 'the cluster SSH host key (in the database)'),
    created: sealer.created,
    renewed: [],
  };
}

/**
 * Adds the next recording key generation; new recordings are signed with it once each replica
 * has restarted (or at once by the replica that rotated), and every earlier key still verifies.
 * Returns the new key. Two rotations at once: one wins, the other fails and says so.
 */
export async function rotateRecordingKey(
  store: Store,
  sealingKey: Buffer,
  now: Date = new Date(),
): Promise<RecordingKey> {
  const existing = await store.listClusterSecrets(NAMES.recordingKeyPrefix);
  if (existing.length === 0) {
    throw new Error(
      'This database has no cluster identity yet; start a gateway with --database-url once before rotating its keys.',
    );
  }
  const generation = existing.length + 1;
  const added = await addRecordingKeyGeneration(store, sealingKey, generation, undefined, now);
  if (!added) {
    throw new Error(
      'Another rotation added the same recording key generation at the same moment; run `keys rotate` again if you want yet another key.',
    );
  }
  const keys = await readRecordingKeys(store, sealingKey);
  return keys.at(-1) as RecordingKey;
}

async function addRecordingKeyGeneration(
  store: Store,
  sealingKey: Buffer,
  generation: number,
  seed: KeyObject | undefined,
  now: Date,
): Promise<boolean> {
  const privateKey = seed ?? generateKeyPairSync('ed25519').privateKey;
  const key = recordingKeyOf(privateKey);
  const name = `${NAMES.recordingKeyPrefix}${String(generation).padStart(6, '0')}`;
  return store.addClusterSecretIfAbsent({
    name,
    publicPart: key.publicKeyPem,
    sealed: sealSecret(
      sealingKey,
      privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      aad(name),
    ),
    createdAt: now.getTime(),
  });
}

async function readRecordingKeys(store: Store, sealingKey: Buffer): Promise<RecordingKey[]> {
  const rows = await store.listClusterSecrets(NAMES.recordingKeyPrefix);
  return rows.map((row) => {
    const key = recordingKeyOf(createPrivateKey(open(sealingKey, row)));
    if (row.publicPart !== null && row.publicPart.trim() !== key.publicKeyPem.trim()) {
      throw new Error(
        `The stored public half of ${row.name} does not match its private key: the cluster_secrets table was altered. Restore it from a backup.`,
      );
    }
    return key;
  });
}

/** Reads, or creates then reads, one named secret; records what this call created. */
class Sealer {
  readonly created: string[] = [];

  constructor(
    private readonly store: Store,
    private readonly sealingKey: Buffer,
    private readonly now: Date,
  ) {}

  async secret(name: string, make: () => string): Promise<string> {
    return (await this.piece(name, () => ({ secret: make(), publicPart: null }))).secret;
  }

  /** A CA: its certificate is the public half, its key the sealed one; one row, one insert. */
  async pair(name: string, make: () => PemCertificateAndKey): Promise<PemCertificateAndKey> {
    const piece = await this.piece(name, () => {
      const made = make();
      return { secret: made.keyPem, publicPart: made.certPem };
    });
    if (piece.publicPart === null) {
      throw new Error(`${name} in the database has no certificate; restore it from a backup`);
    }
    return { certPem: piece.publicPart, keyPem: piece.secret };
  }

  private async piece(
    name: string,
    make: () => { secret: string; publicPart: string | null },
  ): Promise<{ secret: string; publicPart: string | null }> {
    let row = await this.store.getClusterSecret(name);
    if (!row) {
      const made = make();
      const added = await this.store.addClusterSecretIfAbsent({
        name,
        publicPart: made.publicPart,
        sealed: sealSecret(this.sealingKey, made.secret, aad(name)),
        createdAt: this.now.getTime(),
      });
      if (added) this.created.push(`${name} (in the database)`);
      // Read back even when this call inserted: what counts is the row that won.
      row = await this.store.getClusterSecret(name);
      if (!row) throw new Error(`${name} was stored but cannot be read back from the database`);
    }
    return { secret: open(this.sealingKey, row), publicPart: row.publicPart };
  }
}

function open(sealingKey: Buffer, row: ClusterSecretRecord): string {
  try {
    return openSecret(sealingKey, row.sealed, aad(row.name));
  } catch (error) {
    throw new Error(
      `Cannot open ${row.name}, stored sealed in the database: the sealing key (--sealing-key-file or WITNESS_SEALING_KEY) is not the one the cluster was created with, or the row was altered. Give this replica the same sealing key as the others.`,
      { cause: error },
    );
  }
}

/** Associated data names the row, so a sealed value moved to another name does not open. */
function aad(name: string): string {
  return `cluster-secret:${name}`;
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`;
}

/** The CA certificate (public) in the data directory, as a single gateway has it. */
function publishCaCertificate(dataDir: string, certPem: string): void {
  const file = join(dataDir, PUBLIC_CA_FILE);
  if (existsSync(file) && readFileSync(file, 'utf8') === certPem) return;
  mkdirSync(join(dataDir, 'tls'), { recursive: true, mode: 0o700 });
  writeFileSync(file, certPem, { mode: 0o644 });
}

/** What a replica's own data directory already holds, for a cluster that has no identity yet. */
class LocalSeed {
  private material: GatewayKeyMaterial | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly masterKeyBase64: string | undefined,
  ) {}

  private existing(): GatewayKeyMaterial | undefined {
    if (!existsSync(join(this.dataDir, 'tls', 'ca.key'))) return undefined;
    this.material ??= loadOrInitDataDir(this.dataDir, {
      ...(this.masterKeyBase64 !== undefined && { masterKeyBase64: this.masterKeyBase64 }),
    });
    return this.material;
  }

  ca(): PemCertificateAndKey | undefined {
    const m = this.existing();
    return m && { certPem: m.caCertPem, keyPem: m.caKeyPem };
  }

  clientCa(): PemCertificateAndKey | undefined {
    const m = this.existing();
    return m && { certPem: m.clientCaCertPem, keyPem: m.clientCaKeyPem };
  }

  masterKey(): string | undefined {
    if (this.masterKeyBase64 !== undefined) return this.masterKeyBase64.trim();
    return this.existing()?.masterKey.toString('base64');
  }

  recordingKey(): KeyObject | undefined {
    return this.existing()?.recordingKey.privateKey;
  }

  sshHostKey(): string | undefined {
    const file = join(this.dataDir, SSH_HOST_KEY_FILE);
    return existsSync(file) ? readFileSync(file, 'utf8') : undefined;
  }
}
