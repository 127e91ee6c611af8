/**
 * What `witness db login` and the desktop's "Copy connection for DBeaver/pgAdmin" both do
 * (issue #15): make a key pair here, send only the public key to `POST /v1/db-certificates`,
 * and write the key (0600, directory 0700 — libpq refuses a key others can read), the
 * certificate and the gateway's CA under `<profile>/db/<gateway>/<resource>/`. The private key
 * never leaves this process except into that file.
 */
import { generateKeyPairSync } from 'node:crypto';
import path from 'node:path';
import type { DbCertificate } from '../../shared/api/apiSchemas.ts';
import { writeFileAtomic } from '../credentialStore.ts';
import {
  type ConnectionLines,
  certificateConnectionLines,
  type DbCertificateFiles,
} from '../dbConnectionLines.ts';
import type { GatewayClient } from '../gatewayClient.ts';

export const DB_FILES = {
  key: 'client.key',
  keyDer: 'client.pk8',
  cert: 'client.crt',
  ca: 'gateway-ca.crt',
} as const;

export interface DbLoginResult {
  issued: DbCertificate;
  dir: string;
  files: DbCertificateFiles;
  lines: ConnectionLines;
}

/** The gateway has no PostgreSQL listener: there is nothing a certificate could log in to. */
export class NoPostgresListenerError extends Error {
  constructor(gatewayUrl: string) {
    super(
      `The gateway at ${gatewayUrl} has no PostgreSQL listener; ask its operator to start it with --postgres.`,
    );
  }
}

/** Where one resource's files live: per gateway, so two gateways' `db-main` stay apart. */
export function dbCertificateDir(profileDir: string, gatewayUrl: string, resource: string): string {
  const gateway = new URL(gatewayUrl).host.replace(/[^A-Za-z0-9.-]/g, '_');
  return path.join(profileDir, 'db', gateway, safeName(resource));
}

function safeName(resource: string): string {
  // Resource names are [a-z0-9._-]; anything else (an id typed by hand) is made a file name.
  const name = resource.replace(/[^A-Za-z0-9._-]/g, '_');
  return name.startsWith('.') ? `_${name}` : name;
}

export function dbCertificateFiles(dir: string): DbCertificateFiles {
  return {
    key: path.join(dir, DB_FILES.key),
    keyDer: path.join(dir, DB_FILES.keyDer),
    cert: path.join(dir, DB_FILES.cert),
    ca: path.join(dir, DB_FILES.ca),
  };
}

export async function dbLogin(
  client: Pick<GatewayClient, 'createDbCertificate'>,
  request: { gatewayUrl: string; profileDir: string; resource: string; ttlSeconds: number },
): Promise<DbLoginResult> {
  // P-256: small, fast to verify, and accepted by every libpq and JDBC driver in use.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issued = await client.createDbCertificate({
    resource: request.resource,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ttlSeconds: request.ttlSeconds,
  });
  if (!issued.endpoint) throw new NoPostgresListenerError(request.gatewayUrl);
  const dir = dbCertificateDir(request.profileDir, request.gatewayUrl, issued.resource.name);
  const files = dbCertificateFiles(dir);
  // writeFileAtomic makes the directory 0700; both key files are 0600.
  await writeFileAtomic(
    files.key,
    privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    0o600,
  );
  await writeFileAtomic(files.keyDer, privateKey.export({ type: 'pkcs8', format: 'der' }), 0o600);
  await writeFileAtomic(files.cert, issued.certificatePem, 0o644);
  await writeFileAtomic(files.ca, issued.caPem, 0o644);
  return {
    issued,
    dir,
    files,
    lines: certificateConnectionLines(issued, request.gatewayUrl, files),
  };
}
