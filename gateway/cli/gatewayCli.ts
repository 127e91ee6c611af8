/**
 * `witness-gateway`: run the gateway (`serve`), bootstrap it (`admin create-user`) and check
 * it (`admin check-recordings`).
 * stdout carries machine-readable output (the ready line, the enrollment link); people read
 * stderr.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import {
  groupNameSchema,
  passwordSchema,
  type Role,
  roles,
  usernameSchema,
} from '../../shared/api/apiSchemas.ts';
import { createOidcProviderRequestSchema } from '../../shared/api/oidcSchemas.ts';
import { hashPassword } from '../auth/passwords.ts';
import { rotateRecordingKey } from '../config/clusterIdentity.ts';
import { readSealingKey } from '../config/sealingKey.ts';
import {
  DEFAULT_DRAIN_TIMEOUT_MS,
  gatewayVersion,
  openGatewayServices,
  startGateway,
} from '../index.ts';
import { newId } from '../newId.ts';
import type {
  RecordingCatalog,
  RecordingListPosition,
  RecordingMetadata,
} from '../store/recordingStore.ts';
import { parseDuration } from './duration.ts';
import { parseListenAddress } from './listenAddress.ts';

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  env: NodeJS.ProcessEnv;
  /**
   * Resolves when the process is asked to stop, with the signal's name when known: `SIGTERM`
   * drains (issue #17), anything else stops at once.
   */
  untilStopped: () => Promise<unknown>;
  /**
   * Resolves when stdin reaches its end or breaks (`serve --exit-with-parent`): the process
   * that started the gateway with a pipe on stdin has gone, however it died.
   */
  stdinClosed?: () => Promise<void>;
}

/** Every recording not being written now, paged through the list (newest first). */
async function allEndedRecordings(store: RecordingCatalog): Promise<RecordingMetadata[]> {
  const ended: RecordingMetadata[] = [];
  let after: RecordingListPosition | undefined;
  for (;;) {
    const page = await store.listRecordings({ limit: 500, ...(after ? { after } : {}) });
    ended.push(...page.filter((recording) => recording.status !== 'recording'));
    const last = page.at(-1);
    if (!last || page.length < 500) return ended;
    after = { startedAt: last.startedAt, sessionId: last.sessionId };
  }
}

/** Written by `serve` so `admin create-user` can put the right URL into enrollment links. */
const RUNTIME_FILE = 'gateway.json';

/** `admin check-recordings` found recordings the gateway cannot account for. */
export const EXIT_RECORDING_PROBLEMS = 3;

export async function runGatewayCli(argv: string[], io: CliIo): Promise<number> {
  const program = new Command('witness-gateway')
    .description('Witness gateway: just-in-time access to SSH and PostgreSQL, every byte recorded')
    .version(gatewayVersion())
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr });

  const dataOption = () =>
    new Option('--data <dir>', 'data directory (keys, embedded database, recordings)').env(
      'WITNESS_DATA_DIR',
    );
  const databaseOption = () =>
    new Option('--database-url <url>', 'PostgreSQL URL instead of the embedded SQLite file').env(
      'WITNESS_DATABASE_URL',
    );
  const sealingKeyOption = () =>
    new Option(
      '--sealing-key-file <file>',
      'with --database-url: file holding the key (base64 of 32 bytes) that seals the identity the replicas share in the database; or set WITNESS_SEALING_KEY',
    );
  /** With a database URL, the sealing key from the file or the environment (issue #17). */
  const sealingKeyFor = (options: { databaseUrl?: string; sealingKeyFile?: string }) =>
    options.databaseUrl === undefined
      ? undefined
      : readSealingKey({ file: options.sealingKeyFile, env: io.env.WITNESS_SEALING_KEY });
  /** The admin commands' services: the gateway's data and store, its API never listening. */
  const openForAdmin = (options: { data: string; databaseUrl?: string; sealingKeyFile?: string }) =>
    openGatewayServices({
      dataDir: path.resolve(options.data),
      api: { host: '127.0.0.1', port: 0 },
      databaseUrl: options.databaseUrl,
      sealingKey: sealingKeyFor(options),
      masterKeyBase64: io.env.WITNESS_MASTER_KEY,
    });

  program
    .command('serve')
    .description('start the gateway')
    .addOption(dataOption().makeOptionMandatory())
    .addOption(
      new Option('--api <host:port>', 'HTTPS API listen address (port 0: any free port)')
        .default('127.0.0.1:8443')
        .argParser(listenAddressArg),
    )
    .addOption(
      new Option(
        '--ssh <host:port>',
        'SSH listener address (port 0: any free port); omit for none',
      ).argParser(listenAddressArg),
    )
    .addOption(
      new Option(
        '--postgres <host:port>',
        'PostgreSQL listener address (port 0: any free port); omit for none',
      ).argParser(listenAddressArg),
    )
    .addOption(databaseOption())
    .addOption(sealingKeyOption())
    .option('--hostname <name...>', 'extra DNS names or IPs for the TLS certificate')
    .option(
      '--advertise-api <url>',
      'API URL clients are given (enrollment links): a load balancer in front of several replicas',
    )
    .addOption(
      new Option(
        '--advertise-ssh <host:port>',
        'SSH address sessions name instead of the listener’s own (a load balancer)',
      ).argParser(advertisedAddressArg),
    )
    .addOption(
      new Option(
        '--advertise-postgres <host:port>',
        'PostgreSQL address sessions and database certificates name instead of the listener’s own',
      ).argParser(advertisedAddressArg),
    )
    .addOption(
      new Option(
        '--drain-timeout <duration>',
        'on SIGTERM: how long live sessions may run on before they are ended (default 30s; 0 with --exit-with-parent)',
      ).argParser(drainTimeoutArg),
    )
    .option(
      '--exit-with-parent',
      'stop when stdin closes (for a parent such as the desktop app that holds a pipe to it)',
    )
    .addOption(
      new Option('--access-token-ttl <duration>', 'lifetime of access tokens')
        .default(15 * 60_000, '15m')
        .argParser(durationArg),
    )
    .addOption(
      new Option('--refresh-token-ttl <duration>', 'lifetime of refresh tokens (rotated on use)')
        .default(7 * 86_400_000, '7d')
        .argParser(durationArg),
    )
    .addOption(
      new Option(
        '--check-recordings-every <duration>',
        'how often to look for missing recordings in the background (also at start)',
      )
        .default(6 * 3_600_000, '6h')
        .argParser(durationArg),
    )
    .addOption(
      new Option(
        '--reverify-recordings-every <duration>',
        'how often to verify every stored recording again in the background, one at a time (also at start)',
      )
        .default(3_600_000, '1h')
        .argParser(durationArg),
    )
    .option(
      '--public-url <url>',
      'the URL browsers and clients reach the API at (the OpenID Connect callback is <url>/v1/oidc/callback); default the API address',
    )
    .addOption(
      new Option(
        '--provider-check-every <duration>',
        'while a user has sessions, ask their identity provider again at least this often (issue #18)',
      )
        .default(10 * 60_000, '10m')
        .argParser(durationArg),
    )
    .action(
      async (options: {
        data: string;
        publicUrl?: string;
        providerCheckEvery: number;
        api: { host: string; port: number };
        ssh?: { host: string; port: number };
        postgres?: { host: string; port: number };
        databaseUrl?: string;
        sealingKeyFile?: string;
        hostname?: string[];
        advertiseApi?: string;
        advertiseSsh?: { host: string; port: number };
        advertisePostgres?: { host: string; port: number };
        drainTimeout?: number;
        accessTokenTtl: number;
        refreshTokenTtl: number;
        checkRecordingsEvery: number;
        reverifyRecordingsEvery: number;
        exitWithParent?: boolean;
      }) => {
        const gateway = await startGateway({
          dataDir: path.resolve(options.data),
          api: options.api,
          ssh: options.ssh,
          postgres: options.postgres,
          databaseUrl: options.databaseUrl,
          sealingKey: sealingKeyFor(options),
          masterKeyBase64: io.env.WITNESS_MASTER_KEY,
          hostnames: options.hostname,
          advertise: {
            ...(options.advertiseApi !== undefined && { api: options.advertiseApi }),
            ...(options.advertiseSsh && { ssh: options.advertiseSsh }),
            ...(options.advertisePostgres && { postgres: options.advertisePostgres }),
          },
          auth: {
            accessTokenTtlMs: options.accessTokenTtl,
            refreshTokenTtlMs: options.refreshTokenTtl,
          },
          recordingCheckIntervalMs: options.checkRecordingsEvery,
          reverifyIntervalMs: options.reverifyRecordingsEvery,
          publicUrl: options.publicUrl,
          oidc: { providerCheckMaxAgeMs: options.providerCheckEvery },
        });
        const storeKind = gateway.services.store.kind;
        writeFileSync(
          path.join(options.data, RUNTIME_FILE),
          `${JSON.stringify({ api: gateway.advertisedApiUrl, caFingerprint: gateway.caFingerprint, pid: process.pid })}\n`,
          { mode: 0o600 },
        );
        io.stderr(
          `Witness gateway ${gatewayVersion()} listening on ${gateway.apiUrl} (store: ${storeKind})\n` +
            `CA fingerprint: ${gateway.caFingerprint}\n` +
            (gateway.services.dataDir.created.length > 0
              ? `Created in ${options.data}: ${gateway.services.dataDir.created.join(', ')}\n`
              : ''),
        );
        const ssh = gateway.ssh;
        if (ssh) {
          io.stderr(
            `SSH listening on ${ssh.address.host}:${ssh.address.port}, host key ${ssh.hostKey.fingerprint}\n`,
          );
        }
        const postgres = gateway.postgres;
        if (postgres) {
          io.stderr(`PostgreSQL listening on ${postgres.address.host}:${postgres.address.port}\n`);
        }
        const ready = {
          ready: true,
          api: gateway.apiUrl,
          ...(ssh && { ssh: `${ssh.address.host}:${ssh.address.port}` }),
          ...(postgres && { postgres: `${postgres.address.host}:${postgres.address.port}` }),
          caFingerprint: gateway.caFingerprint,
          store: storeKind,
        };
        io.stdout(`${JSON.stringify(ready)}\n`);
        const parentGone =
          options.exitWithParent && io.stdinClosed
            ? io.stdinClosed().then(() => io.stderr('stdin closed: the parent process is gone.\n'))
            : new Promise<void>(() => {});
        const signal = await Promise.race([io.untilStopped(), parentGone]);
        if (signal !== 'SIGTERM') {
          io.stderr('Stopping the gateway…\n');
          await gateway.close();
          return;
        }
        // A gateway a parent process owns stops when told; one behind a balancer drains.
        const drainMs =
          options.drainTimeout ?? (options.exitWithParent ? 0 : DEFAULT_DRAIN_TIMEOUT_MS);
        io.stderr(
          `SIGTERM: draining — no new sessions; live ones may finish for up to ${Math.round(drainMs / 1000)} s…\n`,
        );
        const { endedSessions } = await gateway.drain(drainMs);
        io.stderr(
          endedSessions > 0
            ? `Drain time is up: ended ${endedSessions} live session(s) ("gateway shutting down"). Stopped.\n`
            : 'Every session had finished. Stopped.\n',
        );
      },
    );

  const admin = program
    .command('admin')
    .description('bootstrap and maintenance on the data directory');
  admin
    .command('create-user')
    .description(
      'create a user and print a one-time enrollment link (or set the password from stdin)',
    )
    .addOption(dataOption().makeOptionMandatory())
    .addOption(databaseOption())
    .addOption(sealingKeyOption())
    .requiredOption('--username <name>', 'login name (lower-case)', (v) =>
      parseWith(usernameSchema, v, 'username'),
    )
    .addOption(new Option('--role <role>', 'role').choices(roles).default('engineer'))
    .option('--group <group...>', 'groups the user belongs to (grants can name groups)')
    .option(
      '--password-stdin',
      'read the password from stdin instead of printing an enrollment link',
    )
    .option(
      '--gateway-url <url>',
      'API URL to put in the enrollment link (default: the running gateway)',
    )
    .action(
      async (options: {
        data: string;
        databaseUrl?: string;
        sealingKeyFile?: string;
        username: string;
        role: Role;
        group?: string[];
        passwordStdin?: boolean;
        gatewayUrl?: string;
      }) => {
        const groups = (options.group ?? []).map((g) => parseWith(groupNameSchema, g, 'group'));
        const password = options.passwordStdin
          ? parseWith(passwordSchema, (await io.readStdin()).replace(/\r?\n$/, ''), 'password')
          : null;
        const services = await openForAdmin(options);
        try {
          if (await services.store.getUserByUsername(options.username)) {
            throw new CliFailure(`A user named ${options.username} already exists.`);
          }
          const user = await services.store.createUser({
            id: newId('usr'),
            username: options.username,
            role: options.role,
            groups,
            passwordHash: password === null ? null : await hashPassword(password),
            createdAt: Date.now(),
          });
          io.stderr(`Created ${user.role} ${user.username} (${user.id}).\n`);
          if (password !== null) return;
          const { token, expiresAt } = await services.auth.createEnrollment(user.id);
          const gatewayUrl = options.gatewayUrl ?? runningGatewayUrl(options.data);
          const fingerprint = services.dataDir.caFingerprint;
          if (gatewayUrl) {
            const link = `witness://enroll?gateway=${encodeURIComponent(gatewayUrl)}&token=${token}&fingerprint=${encodeURIComponent(fingerprint)}`;
            io.stderr(
              `Send this one-time enrollment link to ${user.username} (valid until ${new Date(expiresAt).toISOString()}); they run \`witness enroll '<link>'\`:\n`,
            );
            io.stdout(`${link}\n`);
          } else {
            io.stderr(
              `No running gateway found in ${options.data}, so the link has no URL. ${user.username} runs:\n` +
                `  witness enroll ${token} --gateway https://HOST:PORT --fingerprint ${fingerprint}\n`,
            );
            io.stdout(`${token}\n`);
          }
        } finally {
          await services.bus.close();
          await services.store.close();
        }
      },
    );

  admin
    .command('add-oidc-provider')
    .description(
      'let people sign in through an OpenID Connect identity provider (the client secret is read from stdin)',
    )
    .addOption(dataOption().makeOptionMandatory())
    .addOption(databaseOption())
    .requiredOption('--name <name>', 'short name, as in `witness login --sso NAME`')
    .requiredOption('--issuer <url>', "the provider's issuer URL (its discovery document's)")
    .requiredOption('--client-id <id>', 'the client id the provider gave the gateway')
    .option('--display-name <text>', 'what the sign-in button says after "Sign in with"')
    .option(
      '--scope <scope...>',
      'scopes to ask for (default: openid profile email offline_access)',
    )
    .option('--groups-claim <claim>', "the claim that lists the user's groups", 'groups')
    .option('--public-url <url>', "the gateway's public URL (default: the running gateway's)")
    .action(
      async (options: {
        data: string;
        databaseUrl?: string;
        name: string;
        issuer: string;
        clientId: string;
        displayName?: string;
        scope?: string[];
        groupsClaim: string;
        publicUrl?: string;
      }) => {
        const request = parseWith(
          createOidcProviderRequestSchema,
          {
            name: options.name,
            issuer: options.issuer,
            clientId: options.clientId,
            clientSecret: (await io.readStdin()).replace(/\r?\n$/, ''),
            groupsClaim: options.groupsClaim,
            ...(options.displayName !== undefined && { displayName: options.displayName }),
            ...(options.scope !== undefined && { scopes: options.scope }),
          },
          'identity provider',
        );
        const services = await openForAdmin(options);
        try {
          services.publicUrl.value = options.publicUrl ?? runningGatewayUrl(options.data);
          const provider = await services.oidcProviders.create(request);
          io.stderr(
            `Added identity provider ${provider.name} (${provider.issuer}). Register this redirect URI at the provider:\n`,
          );
          io.stdout(`${provider.redirectUri}\n`);
        } finally {
          await services.bus.close();
          await services.store.close();
        }
      },
    );

  admin
    .command('reindex-recordings')
    .description(
      'rebuild the search index of recordings from their stored bytes (recordings made before the index existed, or repairs)',
    )
    .addOption(dataOption().makeOptionMandatory())
    .addOption(databaseOption())
    .addOption(sealingKeyOption())
    .option('--session <id...>', 'only these sessions (default: every recording that has ended)')
    .action(
      async (options: {
        data: string;
        databaseUrl?: string;
        sealingKeyFile?: string;
        session?: string[];
      }) => {
        const services = await openForAdmin(options);
        try {
          const recordings = options.session
            ? await Promise.all(
                options.session.map(async (sessionId) => {
                  const recording = await services.store.getRecording(sessionId);
                  if (!recording) throw new CliFailure(`There is no recording of ${sessionId}.`);
                  return recording;
                }),
              )
            : await allEndedRecordings(services.store);
          let entries = 0;
          for (const recording of recordings) {
            try {
              entries += await services.textIndex.reindex(
                recording.sessionId,
                services.recordings.events(recording),
              );
            } catch (error) {
              io.stderr(
                `Skipped ${recording.sessionId}: ${error instanceof Error ? error.message : String(error)}\n`,
              );
            }
          }
          io.stderr(`Re-indexed ${recordings.length} recordings (${entries} text entries).\n`);
        } finally {
          await services.bus.close();
          await services.store.close();
        }
      },
    );

  admin
    .command('status')
    .description(
      'print {"users": N, "admins": N} as JSON (N = 0: the first admin is still to be created)',
    )
    .addOption(dataOption().makeOptionMandatory())
    .addOption(databaseOption())
    .addOption(sealingKeyOption())
    .action(async (options: { data: string; databaseUrl?: string; sealingKeyFile?: string }) => {
      const services = await openForAdmin(options);
      try {
        const users = await services.store.listUsers();
        const admins = users.filter((user) => user.role === 'admin' && !user.disabled).length;
        io.stdout(`${JSON.stringify({ users: users.length, admins })}\n`);
      } finally {
        await services.bus.close();
        await services.store.close();
      }
    });

  let exitCode = 0;
  admin
    .command('check-recordings')
    .description(
      `report recordings that are missing: a session without its recording row, a row without its bytes, bytes without a row (exit ${EXIT_RECORDING_PROBLEMS} when any is found)`,
    )
    .addOption(dataOption().makeOptionMandatory())
    .addOption(databaseOption())
    .addOption(sealingKeyOption())
    .option('--json', 'print {"checkedAt": ISO, "problems": [{kind, sessionId, message}]}')
    .action(
      async (options: {
        data: string;
        databaseUrl?: string;
        sealingKeyFile?: string;
        json?: boolean;
      }) => {
        const services = await openForAdmin(options);
        try {
          const { checkedAt, problems } = await services.recordingCheck.check();
          if (options.json) {
            io.stdout(
              `${JSON.stringify({ checkedAt: new Date(checkedAt).toISOString(), problems })}\n`,
            );
          } else if (problems.length === 0) {
            io.stdout('Every recording is accounted for: no problems found.\n');
          } else {
            io.stdout(
              `${problems.map((p) => `${p.kind}\t${p.sessionId}\t${p.message}`).join('\n')}\n`,
            );
            io.stderr(`${problems.length} recording problem(s) found.\n`);
          }
          if (problems.length > 0) exitCode = EXIT_RECORDING_PROBLEMS;
        } finally {
          await services.bus.close();
          await services.store.close();
        }
      },
    );

  const keys = program
    .command('keys')
    .description('the identity the replicas share in the database (--database-url, issue #17)');
  keys
    .command('rotate')
    .description(
      'add a new recording-signing key: replicas sign new recordings with it once restarted; every earlier key stays valid for verification',
    )
    .addOption(dataOption().makeOptionMandatory())
    .addOption(databaseOption().makeOptionMandatory())
    .addOption(sealingKeyOption())
    .action(async (options: { data: string; databaseUrl: string; sealingKeyFile?: string }) => {
      // Opening the services first checks the sealing key against what is stored.
      const services = await openForAdmin(options);
      try {
        const sealingKey = sealingKeyFor(options) as Buffer;
        const key = await rotateRecordingKey(services.store, sealingKey);
        io.stderr(
          `New recording key ${key.keyId}; replicas sign new recordings with it after a restart. Earlier keys still verify.\n`,
        );
        io.stdout(`${JSON.stringify({ keyId: key.keyId, publicKeyPem: key.publicKeyPem })}\n`);
      } finally {
        await services.bus.close();
        await services.store.close();
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`witness-gateway: ${message}\n`);
    return 1;
  }
}

class CliFailure extends Error {}

function listenAddressArg(value: string) {
  try {
    return parseListenAddress(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

/** A host (name or IP) and port clients connect to; unlike a listen address, port 0 is no use. */
function advertisedAddressArg(value: string) {
  const address = listenAddressArg(value);
  if (address.port === 0) {
    throw new InvalidArgumentError('an advertised address needs its real port, not 0');
  }
  return address;
}

/** A duration, or 0: end live sessions at once on SIGTERM. */
function drainTimeoutArg(value: string): number {
  return value.trim() === '0' ? 0 : durationArg(value);
}

function durationArg(value: string): number {
  try {
    return parseDuration(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function parseWith<T>(
  schema: {
    safeParse(
      v: unknown,
    ): { success: true; data: T } | { success: false; error: { issues: { message: string }[] } };
  },
  value: unknown,
  what: string,
): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new InvalidArgumentError(
    `invalid ${what}: ${result.error.issues[0]?.message ?? 'not valid'}`,
  );
}

function runningGatewayUrl(dataDir: string): string | undefined {
  try {
    const runtime = JSON.parse(readFileSync(path.join(dataDir, RUNTIME_FILE), 'utf8')) as {
      api?: string;
      pid?: number;
    };
    if (!runtime.api || !runtime.pid) return undefined;
    process.kill(runtime.pid, 0); // throws when that gateway is no longer running
    return runtime.api;
  } catch {
    return undefined;
  }
}
