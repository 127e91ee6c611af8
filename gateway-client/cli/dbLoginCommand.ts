/**
 * `witness db login RESOURCE [--ttl 1h]` and `witness db logout RESOURCE` (issue #15): a
 * short-lived client certificate so native tools (psql, pgbench, DBeaver, pgAdmin) connect
 * straight to the gateway's PostgreSQL listener, with no tunnel and no ticket. The key pair
 * is generated here and only the public key is sent; the key (0600), the certificate and the
 * gateway's CA go to `<profile>/db/<gateway>/<resource>/`, and a ready libpq connection string
 * is printed. The gateway still decides access on every connection, so logging out is tidying
 * up, not revocation: an admin revokes by ending the grant or disabling the user.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import {
  DB_CERTIFICATE_DEFAULT_TTL_SECONDS,
  DB_CERTIFICATE_MAX_TTL_SECONDS,
  parseDurationSeconds,
} from '../../shared/api/apiSchemas.ts';
import {
  dbCertificateDir,
  dbLogin as issueDbCertificate,
  NoPostgresListenerError,
} from '../dbCertificates/dbCertificateLogin.ts';
import type { GatewayClient } from '../gatewayClient.ts';

// Moved to ../dbCertificates/ and ../dbConnectionLines.ts (the desktop does the same, #15);
// re-exported so existing callers keep their import.
export { DB_FILES, dbCertificateDir } from '../dbCertificates/dbCertificateLogin.ts';
export { connectionString } from '../dbConnectionLines.ts';

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

async function dbLogin(
  client: GatewayClient,
  url: string,
  resource: string,
  ttlSeconds: number,
  deps: DbLoginCommandDeps,
): Promise<void> {
  let login: Awaited<ReturnType<typeof issueDbCertificate>>;
  try {
    login = await issueDbCertificate(client, {
      gatewayUrl: url,
      profileDir: deps.configDir,
      resource,
      ttlSeconds,
    });
  } catch (error) {
    if (error instanceof NoPostgresListenerError) throw deps.failure(error.message);
    throw error;
  }
  const { issued, lines } = login;
  deps.stdout.write(
    `Certificate for ${issued.resource.name} as ${issued.username}, valid until ${issued.notAfter}.\n` +
      `Connection string (every connection is its own recorded session):\n  ${lines.conninfo}\n` +
      `psql:\n  ${lines.psql}\n` +
      `JDBC (DBeaver, IntelliJ; the key as DER in client.pk8):\n  ${lines.jdbcUrl}\n` +
      `Remove it with \`witness db logout ${issued.resource.name}\`.\n`,
  );
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
