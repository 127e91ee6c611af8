/**
 * `witness admin resources list|add-ssh|add-postgres|edit|delete|test|scan-host-key` and
 * `witness admin policies try` (issue #14): resources written from the command line instead of
 * hand-written `POST /v1/resources`. Secrets go in from a file or stdin, never as an argument
 * (arguments show in `ps` and shell history) and never come back. An SSH target's host key is
 * pinned only after the admin confirmed the fingerprint the scan showed (or gave it with
 * `--fingerprint`); the gateway scans again and refuses a different key.
 */
import { readFile } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { type Command, InvalidArgumentError, Option } from 'commander';
import {
  type ConnectionTestResult,
  type CreateResourceRequest,
  type PolicyTryResult,
  postgresTlsModes,
  type Resource,
  type ResourceWriteResult,
  sshFingerprintSchema,
  type UpdateResourceRequest,
} from '../../shared/api/apiSchemas.ts';
import type { GatewayClient } from '../gatewayClient.ts';
import { formatTable } from './textTable.ts';

export interface AdminResourceCommandsContext {
  stdout: Writable;
  /** Progress and questions. */
  stderr: Writable;
  withClient(action: (client: GatewayClient) => Promise<void>): Promise<void>;
  /** Reads stdin to its end (`--password-stdin`). */
  readStdin(): Promise<string>;
  /** Whether a person is at the terminal to answer (stdin is a TTY). */
  isTTY: boolean;
  /** Asks on the terminal; null at end of input. */
  ask(question: string): Promise<string | null>;
  /** A usage error: `witness: <message>`, exit code 2. */
  usage(message: string): Error;
  /** A failure: `witness: <message>`, exit code 1. */
  failure(message: string): Error;
}

interface HostKeyFlags {
  fingerprint?: string;
  yes?: boolean;
}

interface CommonFlags extends HostKeyFlags {
  label?: Record<string, string>;
  description?: string;
  json?: boolean;
}

interface SshFlags extends CommonFlags {
  host?: string;
  port?: number;
  user?: string;
  key?: string;
  passphraseStdin?: boolean;
  generateKey?: boolean;
  passwordStdin?: boolean;
}

interface PostgresFlags extends CommonFlags {
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  tls?: (typeof postgresTlsModes)[number];
  ca?: string;
  passwordStdin?: boolean;
}

interface EditFlags extends SshFlags, PostgresFlags {
  name?: string;
  rescan?: boolean;
}

/** Adds `resources …` and `policies …` below the `admin` command. */
export function registerAdminResourceCommands(
  admin: Command,
  ctx: AdminResourceCommandsContext,
): void {
  const print = (text: string): void => {
    ctx.stdout.write(`${text}\n`);
  };
  const note = (text: string): void => {
    ctx.stderr.write(`${text}\n`);
  };
  const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));
  const resources = admin
    .command('resources')
    .description('List, add, edit, test and delete resources (SSH servers, PostgreSQL databases).');

  resources
    .command('list', { isDefault: true })
    .description('List every resource with its labels.')
    .option('--label <k=v>', 'only resources with this label (repeatable)', collectLabel)
    .option('--json', 'print the API response as JSON')
    .action((options: { label?: Record<string, string>; json?: boolean }) =>
      ctx.withClient(async (client) => {
        const wanted = Object.entries(options.label ?? {});
        const list = (await client.listResources()).filter((r) =>
          wanted.every(([key, value]) => r.labels[key] === value),
        );
        if (options.json) return printJson({ resources: list });
        if (list.length === 0) {
          print(
            wanted.length > 0
              ? 'No resource has those labels.'
              : 'There are no resources yet. Add one with `witness admin resources add-ssh` or `add-postgres`.',
          );
          return;
        }
        print(
          formatTable(
            ['NAME', 'KIND', 'TARGET', 'CREDENTIAL', 'LABELS'],
            list.map((r) => [
              r.name,
              r.target.kind,
              targetText(r),
              credentialText(r),
              labelsText(r.labels),
            ]),
          ),
        );
      }),
    );

  /** Scans `host:port` and returns the fingerprint the admin confirmed (or gave). */
  const confirmFingerprint = async (
    client: GatewayClient,
    host: string,
    port: number,
    flags: HostKeyFlags,
  ): Promise<string> => {
    const expected =
      flags.fingerprint === undefined ? undefined : parseFingerprint(flags.fingerprint, ctx);
    const scanned = await client.scanHostKey(host, port);
    note(`${host}:${port} presents the ${scanned.keyType} host key ${scanned.fingerprint}`);
    if (expected !== undefined) {
      if (scanned.fingerprint !== expected) {
        throw ctx.failure(
          `${host}:${port} presents ${scanned.fingerprint}, not the ${expected} you gave. Nothing was saved: ` +
            'check with the server’s owner (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it).',
        );
      }
      note('It matches --fingerprint; pinning it.');
      return expected;
    }
    if (flags.yes) {
      note('Pinning it as presented (--yes).');
      return scanned.fingerprint;
    }
    if (!ctx.isTTY) {
      throw ctx.usage(
        'No terminal to confirm the host key on: compare the fingerprint above with the server’s ' +
          '(`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on it), then pass --fingerprint SHA256:… (or --yes).',
      );
    }
    const answer = await ctx.ask('Is this the server’s key? Pin it? [y/N] ');
    if (!/^\s*y(es)?\s*$/i.test(answer ?? '')) throw ctx.failure('Not pinned; nothing was saved.');
    return scanned.fingerprint;
  };

  const reportWrite = (written: ResourceWriteResult, verb: string, json?: boolean) => {
    if (json) return printJson(written);
    print(`${verb} ${written.target.kind} resource ${written.name} (${written.id}).`);
    if (written.target.kind === 'ssh' && written.target.hostKey) {
      print(`  host key pinned: ${written.target.hostKey.split(' ')[0]}`);
    }
    if (written.publicKeyToInstall) {
      note(
        `Install this public key for ${written.target.kind === 'ssh' ? written.target.username : 'the login user'} ` +
          'on the target (append it to ~/.ssh/authorized_keys), then run `witness admin resources test ' +
          `${written.name}\`:`,
      );
      print(written.publicKeyToInstall);
    }
  };

  withCommonFlags(
    withSshKeyFlags(
      resources
        .command('add-ssh')
        .description(
          'Add an SSH server: scan and pin its host key; upload or generate the login key.',
        )
        .argument('<name>', 'resource name (lower-case letters, digits, . _ -)')
        .requiredOption('--host <host>', 'host name or IP address')
        .option('--port <port>', 'SSH port', parsePort, 22)
        .requiredOption('--user <name>', 'the account the gateway logs in as'),
    ),
  ).action((name: string, flags: SshFlags) =>
    ctx.withClient(async (client) => {
      const secret = await secretOf(flags, ctx);
      if (!flags.generateKey && secret === undefined) {
        throw ctx.usage(
          'Give the login credential: --generate-key, --key FILE or --password-stdin.',
        );
      }
      const host = flags.host ?? '';
      const port = flags.port ?? 22;
      const hostKeyFingerprint = await confirmFingerprint(client, host, port, flags);
      const body: CreateResourceRequest = {
        name,
        ...(flags.description !== undefined && { description: flags.description }),
        labels: flags.label ?? {},
        target: { kind: 'ssh', host, port, username: flags.user ?? '' },
        ...(secret !== undefined && { secret }),
        ...(flags.generateKey && { generateKey: true }),
        hostKeyFingerprint,
      };
      reportWrite(await client.createResource(body), 'Added', flags.json);
    }),
  );

  withCommonFlags(
    withPostgresFlags(
      resources
        .command('add-postgres')
        .description('Add a PostgreSQL database; the password is read from stdin.')
        .argument('<name>', 'resource name (lower-case letters, digits, . _ -)')
        .requiredOption('--host <host>', 'host name or IP address')
        .option('--port <port>', 'PostgreSQL port', parsePort, 5432)
        .requiredOption('--database <name>', 'database name')
        .requiredOption('--user <name>', 'the role the gateway logs in as')
        .option('--password-stdin', 'read the password from stdin'),
    ),
  ).action((name: string, flags: PostgresFlags) =>
    ctx.withClient(async (client) => {
      const password = flags.passwordStdin ? await passwordFromStdin(ctx) : undefined;
      const body: CreateResourceRequest = {
        name,
        ...(flags.description !== undefined && { description: flags.description }),
        labels: flags.label ?? {},
        target: {
          kind: 'postgres',
          host: flags.host ?? '',
          port: flags.port ?? 5432,
          database: flags.database ?? '',
          username: flags.user ?? '',
          tlsMode: flags.tls ?? 'prefer',
          caPem: flags.ca === undefined ? null : await readFile(flags.ca, 'utf8'),
        },
        ...(password !== undefined && { secret: { password } }),
      };
      reportWrite(await client.createResource(body), 'Added', flags.json);
    }),
  );

  withCommonFlags(
    withPostgresFlags(
      withSshKeyFlags(
        resources
          .command('edit')
          .description('Change a resource; only the flags given change (labels are replaced).')
          .argument('<resource>', 'resource name or id')
          .option('--name <name>', 'rename it')
          .option('--host <host>', 'host name or IP address')
          .option('--port <port>', 'port', parsePort)
          .option('--user <name>', 'the account or role the gateway logs in as')
          .option('--database <name>', 'database name (PostgreSQL)')
          .option(
            '--rescan',
            'scan the SSH host key again and pin it (also when host or port change)',
          ),
      ),
    ),
  ).action((wanted: string, flags: EditFlags) =>
    ctx.withClient(async (client) => {
      const existing = await findResource(client, wanted, ctx);
      const body: UpdateResourceRequest = {
        ...(flags.name !== undefined && { name: flags.name }),
        ...(flags.description !== undefined && { description: flags.description }),
        ...(flags.label !== undefined && { labels: flags.label }),
      };
      const target = existing.target;
      if (target.kind === 'ssh') {
        if (flags.database !== undefined || flags.tls !== undefined || flags.ca !== undefined) {
          throw ctx.usage(
            `${existing.name} is an SSH resource: --database, --tls and --ca are for PostgreSQL.`,
          );
        }
        const moved =
          (flags.host !== undefined && flags.host !== target.host) ||
          (flags.port !== undefined && flags.port !== target.port);
        if (moved || flags.user !== undefined || flags.rescan || flags.fingerprint || flags.yes) {
          body.target = {
            ...target,
            host: flags.host ?? target.host,
            port: flags.port ?? target.port,
            username: flags.user ?? target.username,
            // A new address needs its own key: the old pin stays only where nothing moved.
            hostKey:
              moved || flags.rescan || flags.fingerprint || flags.yes ? null : target.hostKey,
          };
          if (body.target.hostKey === null) {
            body.hostKeyFingerprint = await confirmFingerprint(
              client,
              body.target.host,
              body.target.port ?? 22,
              flags,
            );
          }
        }
        const secret = await secretOf(flags, ctx);
        if (secret !== undefined) body.secret = secret;
        if (flags.generateKey) body.generateKey = true;
      } else {
        if (flags.key !== undefined || flags.generateKey || flags.rescan) {
          throw ctx.usage(`${existing.name} is a PostgreSQL resource: key flags are for SSH.`);
        }
        if (
          [flags.host, flags.port, flags.user, flags.database, flags.tls, flags.ca].some(
            (v) => v !== undefined,
          )
        ) {
          body.target = {
            ...target,
            host: flags.host ?? target.host,
            port: flags.port ?? target.port,
            username: flags.user ?? target.username,
            database: flags.database ?? target.database,
            tlsMode: flags.tls ?? target.tlsMode,
            caPem: flags.ca === undefined ? target.caPem : await readFile(flags.ca, 'utf8'),
          };
        }
        if (flags.passwordStdin) body.secret = { password: await passwordFromStdin(ctx) };
      }
      if (Object.keys(body).length === 0) throw ctx.usage('Nothing to change: pass a flag.');
      reportWrite(await client.updateResource(existing.id, body), 'Updated', flags.json);
    }),
  );

  resources
    .command('delete')
    .description('Delete a resource: its grants go with it and its live sessions end.')
    .argument('<resource>', 'resource name or id')
    .option('-y, --yes', 'do not ask for confirmation')
    .action((wanted: string, flags: { yes?: boolean }) =>
      ctx.withClient(async (client) => {
        const existing = await findResource(client, wanted, ctx);
        if (!flags.yes) {
          if (!ctx.isTTY)
            throw ctx.usage(`No terminal to confirm on: pass --yes to delete ${existing.name}.`);
          const answer = await ctx.ask(
            `Delete ${existing.name}? Its grants are deleted and its live sessions end now. [y/N] `,
          );
          if (!/^\s*y(es)?\s*$/i.test(answer ?? '')) throw ctx.failure('Not deleted.');
        }
        await client.deleteResource(existing.id);
        print(`Deleted ${existing.name}; its grants are gone and its live sessions end now.`);
      }),
    );

  resources
    .command('test')
    .description('Connect to the target with the stored credential and say which step fails.')
    .argument('<resource>', 'resource name or id')
    .option('--json', 'print the API response as JSON')
    .action((wanted: string, flags: { json?: boolean }) =>
      ctx.withClient(async (client) => {
        const existing = await findResource(client, wanted, ctx);
        const result = await client.testResource(existing.id);
        if (flags.json) printJson(result);
        else print(describeTest(result));
        if (!result.ok) throw ctx.failure(result.message);
      }),
    );

  resources
    .command('scan-host-key')
    .description('Show the host key an SSH server presents (nothing is stored).')
    .argument('<host>', 'host name or IP address')
    .option('--port <port>', 'SSH port', parsePort, 22)
    .option('--json', 'print the API response as JSON')
    .action((host: string, flags: { port: number; json?: boolean }) =>
      ctx.withClient(async (client) => {
        const scanned = await client.scanHostKey(host, flags.port);
        if (flags.json) return printJson(scanned);
        print(`${scanned.keyType} ${scanned.fingerprint}`);
        note(
          `Compare it with the server's own (\`ssh-keygen -lf /etc/ssh/ssh_host_${scanned.keyType.replace(/^ssh-/, '').replace(/-.*/, '')}_key.pub\` on it), ` +
            'then pin it with `--fingerprint` on add-ssh or edit.',
        );
      }),
    );

  const policies = admin.command('policies').description('Try masking and guardrail policies.');
  policies
    .command('try')
    .description('What the gateway would do with a query (and a sample result) under a policy.')
    .requiredOption(
      '--policy <file>',
      'JSON policy: {masking, guardrails, maskingMode} (or a grant/resource with one)',
    )
    .requiredOption('--query <sql>', 'the sample query')
    .option('--result <file>', 'JSON sample result: {columns: [{name, type}], rows: [[…]]}')
    .option('--json', 'print the API response as JSON')
    .action((flags: { policy: string; query: string; result?: string; json?: boolean }) =>
      ctx.withClient(async (client) => {
        const file = (await readJson(flags.policy, ctx)) as { policy?: unknown };
        const policy = file && typeof file === 'object' && 'policy' in file ? file.policy : file;
        const sampleResult =
          flags.result === undefined ? undefined : await readJson(flags.result, ctx);
        const result = await client.tryPolicy({
          policy: policy as Parameters<GatewayClient['tryPolicy']>[0]['policy'],
          sampleQuery: flags.query,
          ...(sampleResult !== undefined && {
            sampleResult: sampleResult as Parameters<GatewayClient['tryPolicy']>[0]['sampleResult'],
          }),
        });
        if (flags.json) return printJson(result);
        print(describePolicyTry(result));
      }),
    );
}

function withCommonFlags(command: Command): Command {
  return command
    .option(
      '--label <k=v>',
      'a label (repeatable; on edit the labels given replace all)',
      collectLabel,
    )
    .option('--description <text>', 'what the resource is')
    .option('--fingerprint <SHA256:…>', 'pin the SSH host key only if it has this fingerprint')
    .option('-y, --yes', 'pin the SSH host key the scan shows without asking')
    .option('--json', 'print the API response as JSON');
}

function withSshKeyFlags(command: Command): Command {
  return command
    .option('--key <file>', 'private key file the gateway logs in with (SSH)')
    .option('--passphrase-stdin', "read the key's passphrase from stdin")
    .option(
      '--generate-key',
      'the gateway makes an ed25519 key and prints the public key to install (SSH)',
    )
    .option('--password-stdin', 'read the password from stdin');
}

function withPostgresFlags(command: Command): Command {
  return command
    .addOption(
      new Option('--tls <mode>', 'TLS to the database (PostgreSQL)').choices(postgresTlsModes),
    )
    .option('--ca <file>', 'CA certificate (PEM) for --tls verify-full');
}

/** The write-only credential of an SSH write: a key file, a password from stdin, or nothing. */
async function secretOf(
  flags: SshFlags,
  ctx: AdminResourceCommandsContext,
): Promise<{ privateKey?: string; passphrase?: string; password?: string } | undefined> {
  if (flags.key !== undefined && flags.generateKey) {
    throw ctx.usage('Either --key FILE or --generate-key, not both.');
  }
  if (flags.passphraseStdin && flags.passwordStdin) {
    throw ctx.usage('Only one secret can come from stdin: --passphrase-stdin or --password-stdin.');
  }
  if (flags.passphraseStdin && flags.key === undefined) {
    throw ctx.usage('--passphrase-stdin goes with --key FILE.');
  }
  const secret: { privateKey?: string; passphrase?: string; password?: string } = {};
  if (flags.key !== undefined) {
    try {
      secret.privateKey = await readFile(flags.key, 'utf8');
    } catch (error) {
      throw ctx.usage(`Cannot read the key file ${flags.key}: ${(error as Error).message}`);
    }
  }
  if (flags.passphraseStdin) secret.passphrase = await passwordFromStdin(ctx);
  if (flags.passwordStdin) secret.password = await passwordFromStdin(ctx);
  return Object.keys(secret).length > 0 ? secret : undefined;
}

async function passwordFromStdin(ctx: AdminResourceCommandsContext): Promise<string> {
  const text = (await ctx.readStdin()).replace(/\r?\n$/, '');
  if (text.length === 0) throw ctx.usage('stdin was empty: pipe the secret in.');
  return text;
}

async function readJson(file: string, ctx: AdminResourceCommandsContext): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw ctx.usage(`Cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw ctx.usage(`${file} is not JSON: ${(error as Error).message}`);
  }
}

async function findResource(
  client: GatewayClient,
  wanted: string,
  ctx: AdminResourceCommandsContext,
): Promise<Resource> {
  const found = (await client.listResources()).find((r) => r.name === wanted || r.id === wanted);
  if (!found) {
    throw ctx.usage(
      `There is no resource ${wanted} — list them with \`witness admin resources list\`.`,
    );
  }
  return found;
}

export function describeTest(result: ConnectionTestResult): string {
  const lines = result.steps.map(
    (s) =>
      `  ${s.ok ? 'ok  ' : 'FAIL'} ${s.step.padEnd(8)} ${`${s.ms} ms`.padStart(9)}${s.detail ? `  ${s.detail}` : ''}`,
  );
  if (result.hostKey) {
    lines.push(`  presented: ${result.hostKey.presented ?? '(none)'}`);
    lines.push(`  pinned:    ${result.hostKey.pinned ?? '(none)'}`);
  }
  return [result.ok ? result.message : `Failed at ${result.failedStep}:`, ...lines].join('\n');
}

export function describePolicyTry(result: PolicyTryResult): string {
  const lines: string[] = [];
  if (result.refusal) {
    const { rule, kind, statement, reason } = result.refusal;
    lines.push(
      `REFUSED by ${kind.replace('_', ' ')} rule "${rule}"`,
      `  statement: ${statement}`,
      `  ${reason}`,
    );
  } else {
    lines.push('ALLOWED');
  }
  if (result.result) {
    lines.push(
      '',
      formatTable(
        result.result.columns.map((c) =>
          c.rules.length > 0 ? `${c.name} [${c.treatment}: ${c.rules.join(',')}]` : c.name,
        ),
        result.result.rows.map((row) => row.map((v) => v ?? 'NULL')),
      ),
    );
  }
  for (const text of result.notes) lines.push(`note: ${text}`);
  return lines.join('\n');
}

function targetText(resource: Resource): string {
  const t = resource.target;
  return t.kind === 'ssh'
    ? `${t.username}@${t.host}:${t.port}${t.hostKey ? '' : ' (host key not pinned)'}`
    : `${t.username}@${t.host}:${t.port}/${t.database} tls=${t.tlsMode}`;
}

function credentialText(resource: Resource): string {
  const set = [
    ...(resource.secretSet.privateKey ? ['key'] : []),
    ...(resource.secretSet.password ? ['password'] : []),
  ];
  return set.length > 0 ? set.join('+') : 'none';
}

function labelsText(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${v}`);
  return pairs.length > 0 ? pairs.join(',') : '-';
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError('a port from 1 to 65535.');
  }
  return port;
}

function parseFingerprint(text: string, ctx: AdminResourceCommandsContext): string {
  const parsed = sshFingerprintSchema.safeParse(text);
  if (!parsed.success) {
    throw ctx.usage(`${text} is not a fingerprint: ${parsed.error.issues[0]?.message}.`);
  }
  return parsed.data;
}

function collectLabel(
  text: string,
  previous: Record<string, string> | undefined,
): Record<string, string> {
  const at = text.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError('a label as key=value.');
  return { ...previous, [text.slice(0, at)]: text.slice(at + 1) };
}
