/**
 * `witness db login RESOURCE [--ttl 1h]` and `witness db logout RESOURCE` (issue #15): a
 * short-lived client certificate so native tools (psql, pgbench, DBeaver, pgAdmin) connect
 * straight to the gateway's PostgreSQL listener, with no tunnel and no ticket. The key pair
 * is generated here and only the public key is sent; the key (0600), the certificate and the
 * gateway's CA go to `<profile>/db/<gateway>/<resource>/`, and a ready libpq connection string
 * is printed. The gateway still decides access on every connection, so logging out is tidying
 * up, not revocation: an admin revokes by ending the grant or disabling the user.
 */
import { generateKeyPairSync } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import {
  DB_CERTIFICATE_DEFAULT_TTL_SECONDS,
  DB_CERTIFICATE_MAX_TTL_SECONDS,
  type DbCertificate,
  parseDurationSeconds,
} from '../../shared/api/apiSchemas.ts';
import { writeFileAtomic } from '../credentialStore.ts';
import type { GatewayClient } from '../gatewayClient.ts';
import { conninfoValue } from './conninfo.ts';

export interface DbLoginCommandDeps {
  stdout: Writable;
  /** The profile directory (`$WITNESS_HOME`, `~/.config/witness`). */
  configDir: string;
  withSignedIn(
    action: (signedIn: { client: GatewayClient; url: string }) => Promise<void>,
  ): Promise<void>;
  /** The gateway commands talk to now (the profile's current one), if any. */
  currentGateway(): Promise<string | null>;
  failure(message: string): Error;
  usage(message: string): Error;
}

export const DB_FILES = { key: 'client.key', cert: 'client.crt', ca: 'gateway-ca.crt' } as const;

export function registerDbCommands(program: Command, deps: DbLoginCommandDeps): void {
  const db = program
    .command('db')
    .description('Certificates for native database tools (psql, pgbench, DBeaver, pgAdmin).');
  db.command('login')
    .description(
      'Get a short-lived client certificate for a PostgreSQL resource and print a connection string.',
    )
    .argument('<resource>', 'resource name or id')
    .option(
      '--ttl <duration>',
      'how long it lasts, e.g. 30m, 8h (default 1h; never past your access)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  witness db login orders-db\n  witness db login orders-db --ttl 8h\n' +
        '\nEvery connection made with the certificate is its own recorded session, and is\n' +
        'checked against your access when it is made.',
    )
    .action((resource: string, options: { ttl?: string }) =>
      deps.withSignedIn(({ client, url }) =>
        dbLogin(client, url, resource, parseTtl(options.ttl, deps), deps),
      ),
    );
  db.command('logout')
    .description('Remove the certificate and key `witness db login` wrote for a resource.')
    .argument('<resource>', 'resource name')
    .action((resource: string) => dbLogout(resource, deps));
}

function parseTtl(raw: string | undefined, deps: DbLoginCommandDeps): number {
  if (raw === undefined) return DB_CERTIFICATE_DEFAULT_TTL_SECONDS;
  const seconds = parseDurationSeconds(raw);
  if (seconds === undefined || seconds < 60 || seconds > DB_CERTIFICATE_MAX_TTL_SECONDS) {
    throw deps.usage(
      `--ttl: expected a duration from 1m to ${DB_CERTIFICATE_MAX_TTL_SECONDS / 3600}h such as 30m or 8h, got '${raw}'.`,
    );
  }
  return seconds;
}

/** Where one resource's files live: per gateway, so two gateways' `db-main` stay apart. */
export function dbCertificateDir(configDir: string, gatewayUrl: string, resource: string): string {
  const gateway = new URL(gatewayUrl).host.replace(/[^A-Za-z0-9.-]/g, '_');
  return path.join(configDir, 'db', gateway, safeName(resource));
}

function safeName(resource: string): string {
  // Resource names are [a-z0-9._-]; anything else (an id typed by hand) is made a file name.
  const name = resource.replace(/[^A-Za-z0-9._-]/g, '_');
  return name.startsWith('.') ? `_${name}` : name;
}

async function dbLogin(
  client: GatewayClient,
  url: string,
  resource: string,
  ttlSeconds: number,
  deps: DbLoginCommandDeps,
): Promise<void> {
  // P-256: small, fast to verify, and accepted by every libpq and JDBC driver in use.
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const issued = await client.createDbCertificate({
    resource,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    ttlSeconds,
  });
  if (!issued.endpoint) {
    throw deps.failure(
      `The gateway at ${url} has no PostgreSQL listener; ask its operator to start it with --postgres.`,
    );
  }
  const dir = dbCertificateDir(deps.configDir, url, issued.resource.name);
  const files = {
    key: path.join(dir, DB_FILES.key),
    cert: path.join(dir, DB_FILES.cert),
    ca: path.join(dir, DB_FILES.ca),
  };
  // libpq refuses a key file that others can read; writeFileAtomic makes the directory 0700.
  await writeFileAtomic(
    files.key,
    privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    0o600,
  );
  await writeFileAtomic(files.cert, issued.certificatePem, 0o644);
  await writeFileAtomic(files.ca, issued.caPem, 0o644);
  const conninfo = connectionString(issued, url, files);
  deps.stdout.write(
    `Certificate for ${issued.resource.name} as ${issued.username}, valid until ${issued.notAfter}.\n` +
      `Connection string (every connection is its own recorded session):\n  ${conninfo}\n` +
      `psql:\n  psql "${conninfo}"\n` +
      `Remove it with \`witness db logout ${issued.resource.name}\`.\n`,
  );
}

/** The libpq keyword/value string; the host is one the gateway's certificate names. */
export function connectionString(
  issued: Pick<DbCertificate, 'endpoint' | 'resource' | 'username'>,
  gatewayUrl: string,
  files: { key: string; cert: string; ca: string },
): string {
  const endpoint = issued.endpoint;
  if (!endpoint) throw new Error('no endpoint');
  // A listener bound to every interface publishes a wildcard address nobody can connect to
  // (and no certificate names); the API's host name reaches the same machine.
  const wildcard = endpoint.host === '0.0.0.0' || endpoint.host === '::' || endpoint.host === '';
  const host = wildcard ? new URL(gatewayUrl).hostname.replace(/^\[|\]$/g, '') : endpoint.host;
  return [
    `host=${conninfoValue(host)}`,
    `port=${endpoint.port}`,
    `dbname=${conninfoValue(issued.resource.name)}`,
    `user=${conninfoValue(issued.username)}`,
    'sslmode=verify-full',
    `sslcert=${conninfoValue(files.cert)}`,
    `sslkey=${conninfoValue(files.key)}`,
    `sslrootcert=${conninfoValue(files.ca)}`,
  ].join(' ');
}

async function dbLogout(resource: string, deps: DbLoginCommandDeps): Promise<void> {
  const url = await deps.currentGateway();
  if (!url) throw deps.failure('No gateway in this profile; nothing to remove.');
  const dir = dbCertificateDir(deps.configDir, url, resource);
  const present = await fs.stat(dir).then(
    () => true,
    () => false,
  );
  if (!present) {
    throw deps.failure(`There is no certificate for ${resource} in ${path.dirname(dir)}.`);
  }
  await fs.rm(dir, { recursive: true, force: true });
  deps.stdout.write(`Removed the certificate and key for ${resource} (${dir}).\n`);
}
