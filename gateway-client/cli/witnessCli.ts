/**
 * The `witness` command line: sign in to a gateway (pinning its CA on first contact), enroll
 * with an admin's link, list resources and grants, and open sessions.
 *
 * `runWitnessCli(argv, io)` is the whole program; `bin/witness.mjs` calls it with the real
 * process, tests call it with streams. State lives in the config directory (`profile.ts`) and
 * the credential store (`credentialStore.ts`); nothing here keeps a global.
 *
 * Exit codes: 0 success, 1 an error (printed as `witness: <message>` on stderr), 2 a usage error.
 */
import { readFileSync } from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { Command, CommanderError } from 'commander';
import {
  type CreateSessionResponse,
  type Grant,
  passwordSchema,
  type Resource,
  type TokenPair,
} from '../../shared/api/apiSchemas.ts';
import { AccountLifecycle } from '../account/accountLifecycle.ts';
import type { AccountProfile } from '../account/accountPorts.ts';
import { SessionNotSavedError } from '../account/sessionKeeper.ts';
import { describeSignInEnded, signInEnded } from '../account/signInEnded.ts';
import {
  CaDiscoveryError,
  CaMismatchError,
  checkPinnedCa,
  fetchPresentedCa,
  fingerprintsEqual,
  normalizeFingerprint,
} from '../caPinning.ts';
import {
  type OpenedCredentialStore,
  openCredentialStore,
  parseCredentialStoreChoice,
} from '../credentialStore.ts';
import { InvalidEnrollLinkError, isEnrollLink, parseEnrollLink } from '../enrollLink.ts';
import {
  GatewayApiError,
  type GatewayClient,
  GatewayConnectionError,
  GatewayProtocolError,
  InvalidRequestError,
  NotSignedInError,
} from '../gatewayClient.ts';
import { InvalidGatewayUrlError, normalizeGatewayUrl } from '../gatewayUrl.ts';
import { BrowserSignInError, signInThroughBrowser } from '../oidc/browserSignIn.ts';
import {
  loadProfile,
  type Profile,
  profileSessionVault,
  resolveConfigDir,
  saveProfile,
} from '../profile.ts';
import { registerAccessRequestCommands } from './accessRequestCommands.ts';
import { registerAdminCommands } from './adminCommands.ts';
import { registerAdminGrantCommands, registerAdminGroupCommands } from './adminGrantCommands.ts';
import { registerAdminMachineCommands } from './adminMachineCommands.ts';
import { registerAdminResourceCommands } from './adminResourceCommands.ts';
import { registerAuditCommands } from './auditCommands.ts';
import { registerDbCommands } from './dbLoginCommand.ts';
import { registerPsqlCommand } from './psqlCommand.ts';
import { registerRecordingCommands } from './recordingCommands.ts';
import { registerSshCommand } from './sshCommand.ts';
import { chooseProvider, openInSystemBrowser, SsoChoiceError } from './ssoLogin.ts';
import { askLine, askSecret, PromptCancelledError, readAllInput } from './terminalPrompt.ts';
import { formatTable } from './textTable.ts';
import { registerTunnelCommand, untilProcessSignal } from './tunnelCommand.ts';

export interface CliIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
  /** Whether a person is at the terminal to answer prompts (stdin is a TTY). */
  isTTY: boolean;
  /** For long-running commands (`witness tunnel`): resolves on Ctrl+C. Default: SIGINT/SIGTERM. */
  untilStopped?: () => Promise<string>;
}

/** A failure to report as `witness: <message>` with exit code 1. */
class CliError extends Error {
  override readonly name = 'CliError';
}

/** Bad arguments: reported like `CliError`, exit code 2. */
class UsageError extends Error {
  override readonly name = 'UsageError';
}

const EXIT_OK = 0;
const EXIT_ERROR = 1;
const EXIT_USAGE = 2;

/** Runs the CLI with `argv` (the arguments after the program name); resolves the exit code. */
export async function runWitnessCli(argv: readonly string[], io: CliIo): Promise<number> {
  const cli = new WitnessCli(io);
  const program = cli.buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return cli.exitCode;
  } catch (error) {
    return cli.report(error);
  } finally {
    cli.closeClients();
  }
}

interface LoginOptions {
  /** `--sso` alone: the gateway's only provider; `--sso NAME`: that one (issue #18). */
  sso?: string | true;
  /** false with `--no-browser`: print the URL only. */
  browser?: boolean;
  /** A CI job's workload token: a file, or `-` for stdin (issue #18). */
  idToken?: string;
  username?: string;
  passwordStdin?: boolean;
  totp?: string;
  fingerprint?: string;
  yes?: boolean;
}

interface EnrollOptions {
  gateway?: string;
  passwordStdin?: boolean;
  fingerprint?: string;
  yes?: boolean;
}

interface Trust {
  caPem: string;
  caFingerprint: string;
}

interface SignedIn {
  url: string;
  username: string;
  client: GatewayClient;
}

class WitnessCli {
  private readonly configDir: string;
  private credentialStore: Promise<OpenedCredentialStore> | undefined;
  private readonly accounts: AccountLifecycle[] = [];
  /** Set by commands that pass on another program's exit code (`witness ssh`). */
  exitCode = EXIT_OK;

  constructor(private readonly io: CliIo) {
    this.configDir = resolveConfigDir(io.env);
  }

  buildProgram(): Command {
    const program = new Command('witness')
      .description('Sign in to a Witness gateway and open recorded sessions.')
      .version(readVersion(), '-V, --version')
      .exitOverride()
      .configureOutput({
        writeOut: (text) => this.io.stdout.write(text),
        writeErr: (text) => this.io.stderr.write(text),
        outputError: (text, write) => write(text.replace(/^error: /, 'witness: ')),
      })
      .showHelpAfterError('(run `witness help` for usage)')
      .helpCommand(true);

    program
      .command('login')
      .description('Sign in to a gateway; on first contact, show and pin its CA fingerprint.')
      .argument('<url>', 'gateway URL, e.g. https://gateway.example.com:8443')
      .option('-u, --username <name>', 'user name (default: the last one used at this gateway)')
      .option('--password-stdin', 'read the password from stdin')
      .option('--totp <code>', 'six-digit TOTP code, if the account has one')
      .option('--fingerprint <sha256>', 'expected CA fingerprint; pin only if it matches')
      .option('-y, --yes', 'trust the CA the gateway presents without asking')
      .option('--sso [provider]', "sign in through the gateway's identity provider in a browser")
      .option('--no-browser', 'with --sso: print the sign-in URL instead of opening a browser')
      .option(
        '--id-token <file>',
        "a CI job: exchange the job's OIDC token (a file, or - for stdin; or set WITNESS_ID_TOKEN) for minutes of access",
      )
      .action((url: string, options: LoginOptions) => {
        if (options.sso !== undefined) return this.loginWithProvider(url, options);
        if (options.idToken !== undefined || this.io.env.WITNESS_ID_TOKEN) {
          return this.loginWithIdToken(url, options);
        }
        return this.login(url, options);
      });

    program
      .command('enroll')
      .description('Set your password with an enrollment link from your admin, then sign in.')
      .argument('<link-or-token>', 'witness://enroll?… link, or the bare token with --gateway')
      .option('--gateway <url>', 'gateway URL (needed with a bare token)')
      .option('--password-stdin', 'read the new password from stdin')
      .option('--fingerprint <sha256>', 'expected CA fingerprint (the link usually carries it)')
      .option('-y, --yes', 'trust the CA the gateway presents without asking')
      .action((linkOrToken: string, options: EnrollOptions) => this.enroll(linkOrToken, options));

    program
      .command('logout')
      .description('Sign out: revoke the session on the gateway and delete stored credentials.')
      .argument('[url]', 'gateway URL (default: the current gateway)')
      .option('--forget', "also forget the gateway's pinned CA")
      .action((url: string | undefined, options: { forget?: boolean }) =>
        this.logout(url, options),
      );

    program
      .command('whoami')
      .description('Show who you are signed in as.')
      .option('--json', 'print the user as JSON')
      .action((options: { json?: boolean }) => this.whoami(options));

    program
      .command('resources')
      .description('List the resources you can see.')
      .option('--json', 'print the API response as JSON')
      .action((options: { json?: boolean }) => this.resources(options));

    program
      .command('grants')
      .description('List the grants that apply to you (admins: all grants).')
      .option('--json', 'print the API response as JSON')
      .action((options: { json?: boolean }) => this.grants(options));

    program
      .command('connect')
      .description('Open a session to a resource and print its ticket and endpoint.')
      .argument('<resource>', 'resource name or id')
      .option('--json', 'print the session (ticket, endpoint) as JSON')
      .action((resource: string, options: { json?: boolean }) => this.connect(resource, options));

    registerRecordingCommands(program, {
      stdout: this.io.stdout,
      stderr: this.io.stderr,
      withClient: (action) => this.withSignedIn(({ client }) => action(client)),
      failure: (message) => new CliError(message),
      usage: (message) => new UsageError(message),
    });

    registerAuditCommands(program, {
      stdout: this.io.stdout,
      stderr: this.io.stderr,
      withClient: (action) => this.withSignedIn(({ client }) => action(client)),
      failure: (message) => new CliError(message),
      usage: (message) => new UsageError(message),
    });

    const admin = registerAdminCommands(program, {
      stdout: this.io.stdout,
      stderr: this.io.stderr,
      withClient: (action) => this.withSignedIn(({ client }) => action(client)),
      readStdin: () => readAllInput(this.io.stdin),
      usage: (message) => new UsageError(message),
    });
    registerAccessRequestCommands(program, {
      stdout: this.io.stdout,
      withClient: (action) => this.withSignedIn(({ client }) => action(client)),
    });
    const adminContext = {
      stdout: this.io.stdout,
      withClient: (action: (client: GatewayClient) => Promise<void>) =>
        this.withSignedIn(({ client }) => action(client)),
      usage: (message: string) => new UsageError(message),
    };
    registerAdminGrantCommands(admin, adminContext);
    registerAdminGroupCommands(admin, adminContext);
    registerAdminMachineCommands(admin, adminContext);
    registerAdminResourceCommands(admin, {
      ...adminContext,
      stderr: this.io.stderr,
      readStdin: () => readAllInput(this.io.stdin),
      isTTY: this.io.isTTY,
      ask: (question) => this.ask(question),
      failure: (message) => new CliError(message),
    });

    registerSshCommand(program, {
      io: this.io,
      withSignedIn: (action) => this.withSignedIn(action),
      setExitCode: (code) => {
        this.exitCode = code;
      },
    });

    registerTunnelCommand(program, {
      stdout: this.io.stdout,
      stderr: this.io.stderr,
      withSignedIn: (action) => this.withSignedIn(action),
      pinnedCaPem: async (url) => (await loadProfile(this.configDir)).gateways[url]?.caPem,
      untilStopped: () => (this.io.untilStopped ?? untilProcessSignal)(),
      failure: (message) => new CliError(message),
      usage: (message) => new UsageError(message),
    });

    registerDbCommands(program, {
      stdout: this.io.stdout,
      configDir: this.configDir,
      withSignedIn: (action) => this.withSignedIn(action),
      currentGateway: async () => (await loadProfile(this.configDir)).current,
      failure: (message) => new CliError(message),
      usage: (message) => new UsageError(message),
    });

    registerPsqlCommand(program, {
      io: this.io,
      withSignedIn: (action) => this.withSignedIn(action),
      pinnedCaPem: async (url) => (await loadProfile(this.configDir)).gateways[url]?.caPem,
      setExitCode: (code) => {
        this.exitCode = code;
      },
    });

    return program;
  }

  // --- commands ------------------------------------------------------------------------------

  private async login(urlArgument: string, options: LoginOptions): Promise<void> {
    const url = parseUrlArgument(urlArgument);
    const totp = options.totp === undefined ? undefined : parseTotp(options.totp, '--totp');
    const expected = parseFingerprintOption(options.fingerprint);
    const profile = await loadProfile(this.configDir);
    let username = options.username ?? profile.gateways[url]?.username ?? null;
    const canAsk = this.io.isTTY && !options.passwordStdin;
    // Settle what can be settled without the network first: no half-done trust dialogue.
    if (!username && !canAsk) throw new UsageError('No user name: pass --username NAME.');
    if (!options.passwordStdin && !this.io.isTTY) {
      throw new UsageError(
        'No terminal to ask for the password on: pipe it in with --password-stdin.',
      );
    }

    const trust = await this.establishTrust(url, profile, {
      expected,
      source: '--fingerprint',
      yes: options.yes === true,
    });
    if (!username) username = (await this.ask('Username: '))?.trim() || null;
    if (!username) throw new UsageError('No user name: pass --username NAME.');

    const password = await this.readPassword(
      options.passwordStdin === true,
      `Password for ${username} at ${url}: `,
    );
    const account = await this.account(url, trust);
    const pair = await this.signIn(
      account,
      username,
      password,
      totp,
      options.passwordStdin === true,
    );
    await this.saveSignedIn(account, pair);
  }

  /**
   * `witness login URL --id-token FILE|-` or `WITNESS_ID_TOKEN` (issue #18): a CI job's token
   * for minutes of access as its machine identity; nothing long-lived is stored.
   */
  private async loginWithIdToken(urlArgument: string, options: LoginOptions): Promise<void> {
    const url = parseUrlArgument(urlArgument);
    const source = options.idToken;
    const raw =
      source === undefined
        ? (this.io.env.WITNESS_ID_TOKEN ?? '')
        : source === '-'
          ? await readAllInput(this.io.stdin)
          : readFileSync(source, 'utf8');
    const idToken = raw.trim();
    if (!idToken)
      throw new UsageError('The ID token is empty: pass the token your CI job received.');
    const expected = parseFingerprintOption(options.fingerprint);
    const profile = await loadProfile(this.configDir);
    const trust = await this.establishTrust(url, profile, {
      expected,
      source: '--fingerprint',
      yes: options.yes === true,
    });
    const account = await this.account(url, trust);
    await this.saveSignedIn(account, await account.exchangeIdToken(idToken));
  }

  /** `witness login URL --sso [provider]`: the browser flow of RFC 8252 (issue #18). */
  private async loginWithProvider(urlArgument: string, options: LoginOptions): Promise<void> {
    const url = parseUrlArgument(urlArgument);
    const expected = parseFingerprintOption(options.fingerprint);
    const profile = await loadProfile(this.configDir);
    const trust = await this.establishTrust(url, profile, {
      expected,
      source: '--fingerprint',
      yes: options.yes === true,
    });
    const account = await this.account(url, trust);
    let provider: string;
    try {
      provider = chooseProvider(
        typeof options.sso === 'string' ? options.sso : undefined,
        (await account.signInOptions()).providers,
      );
    } catch (error) {
      if (error instanceof SsoChoiceError) throw new CliError(error.message);
      throw error;
    }
    let pair: TokenPair;
    try {
      pair = await signInThroughBrowser({
        gatewayUrl: url,
        provider,
        openUrl: (signInUrl) => {
          this.info(`Sign in with ${provider} in your browser; if it does not open, visit:`);
          this.info(signInUrl);
          if (options.browser !== false) openInSystemBrowser(signInUrl);
        },
        exchange: (request) => account.exchangeSignInCode(request),
      });
    } catch (error) {
      if (error instanceof BrowserSignInError) throw new CliError(error.message);
      throw error;
    }
    await this.saveSignedIn(account, pair);
  }

  private async enroll(linkOrToken: string, options: EnrollOptions): Promise<void> {
    let gateway: string;
    let token: string;
    let expected: string | null = null;
    let source = '--fingerprint';
    if (isEnrollLink(linkOrToken)) {
      const link = parseEnrollLink(linkOrToken);
      gateway = link.gateway;
      token = link.token;
      if (options.gateway && parseUrlArgument(options.gateway) !== gateway) {
        throw new UsageError(
          `--gateway ${options.gateway} differs from the link's gateway ${gateway}; drop one`,
        );
      }
      if (link.fingerprint) {
        expected = link.fingerprint;
        source = 'the enrollment link';
      }
    } else {
      if (!options.gateway) {
        throw new UsageError(
          'Pass the witness://enroll?… link your admin gave you, or the bare token with --gateway URL.',
        );
      }
      gateway = parseUrlArgument(options.gateway);
      token = linkOrToken.trim();
    }
    const fromOption = parseFingerprintOption(options.fingerprint);
    if (fromOption) {
      if (expected && expected !== fromOption) {
        throw new UsageError(
          `--fingerprint ${fromOption} differs from the enrollment link's ${expected}; ` +
            'ask your admin which one is right',
        );
      }
      expected ??= fromOption;
    }

    if (!options.passwordStdin && !this.io.isTTY) {
      throw new UsageError(
        'No terminal to ask for the new password on: pipe it in with --password-stdin.',
      );
    }
    const profile = await loadProfile(this.configDir);
    const trust = await this.establishTrust(gateway, profile, {
      expected,
      source,
      yes: options.yes === true,
    });
    const password = await this.readNewPassword(options.passwordStdin === true);
    const account = await this.account(gateway, trust);
    const { username } = await account.enroll(token, password);

    // The token is spent now: keep the pin and the user name even if signing in fails below.
    const previous = profile.gateways[gateway];
    profile.gateways[gateway] = {
      caPem: trust.caPem,
      caFingerprint: trust.caFingerprint,
      pinnedAt: previous?.pinnedAt ?? new Date().toISOString(),
      // Whoever is signed in stays so until the login below replaces them.
      username: previous?.signedIn ? previous.username : username,
      signedIn: previous?.signedIn ?? false,
    };
    profile.current = gateway;
    await saveProfile(this.configDir, profile);
    this.info(`Enrolled as ${username} at ${gateway}.`);

    let pair: TokenPair;
    try {
      pair = await this.signIn(account, username, password, undefined, true);
    } catch (error) {
      throw new CliError(
        `Your password is set, but signing in failed: ${messageOf(error)} — ` +
          `run \`witness login ${gateway} --username ${username}\`.`,
      );
    }
    await this.saveSignedIn(account, pair);
  }

  private async logout(urlArgument: string | undefined, options: { forget?: boolean }) {
    const profile = await loadProfile(this.configDir);
    const url = urlArgument ? parseUrlArgument(urlArgument) : profile.current;
    if (!url) {
      this.print('Not signed in to any gateway.');
      return;
    }
    const entry = profile.gateways[url];
    if (!entry) {
      this.print(`Nothing is stored for ${url}.`);
      return;
    }
    const wasSignedIn = entry.signedIn;
    if (entry.username) {
      // Signed out or not, a session stored for the last user is revoked and removed.
      const account = await this.account(url, entry, { storedUser: entry.username });
      await account.signOut();
    }
    if (options.forget) {
      const latest = await loadProfile(this.configDir);
      delete latest.gateways[url];
      if (latest.current === url) latest.current = null;
      await saveProfile(this.configDir, latest);
    }
    const parts = [wasSignedIn ? `Signed out of ${url}.` : `Not signed in to ${url}.`];
    if (options.forget) {
      parts.push(
        `Forgot its pinned CA (${entry.caFingerprint}); the next login will ask to trust one again.`,
      );
    }
    this.print(parts.join(' '));
  }

  private async whoami(options: { json?: boolean }): Promise<void> {
    await this.withSignedIn(async ({ client, url }) => {
      const user = await client.me();
      if (options.json) {
        this.printJson(user);
        return;
      }
      this.print(`${user.username} (${user.role}) at ${url}`);
      this.print(`groups: ${user.groups.length > 0 ? user.groups.join(', ') : '(none)'}`);
      this.print(`TOTP:   ${user.totpEnabled ? 'on' : 'off'}`);
    });
  }

  private async resources(options: { json?: boolean }): Promise<void> {
    await this.withSignedIn(async ({ client }) => {
      const resources = await client.listResources();
      if (options.json) {
        this.printJson({ resources });
        return;
      }
      if (resources.length === 0) {
        // Admins see every resource: none means none exists yet, and they are the ones to add it.
        this.print(
          (await client.me()).role === 'admin'
            ? 'There are no resources yet. Add one: `witness admin resources add-ssh NAME --host HOST --user USER --generate-key` (or add-postgres).'
            : 'No resources are visible to you. Ask an admin for a grant.',
        );
        return;
      }
      this.print(
        formatTable(
          ['NAME', 'KIND', 'HOST:PORT', 'ACCESS', 'LABELS'],
          resources.map((r) => [
            r.name,
            r.target.kind,
            hostPort(r.target.host, r.target.port),
            r.access,
            formatLabels(r.labels),
          ]),
        ),
      );
    });
  }

  private async grants(options: { json?: boolean }): Promise<void> {
    await this.withSignedIn(async ({ client }) => {
      const [grants, resources] = await Promise.all([
        client.listGrants(),
        // Only to show names instead of ids; the grant list stands without it.
        client.listResources().catch(() => [] as Resource[]),
      ]);
      if (options.json) {
        this.printJson({ grants });
        return;
      }
      if (grants.length === 0) {
        const me = await client.me();
        this.print(
          me.role === 'admin'
            ? `There are no grants yet. Add a grant: \`witness admin grants add --user ${me.username} --resource NAME\`.`
            : 'No grants apply to you. Ask an admin for access.',
        );
        return;
      }
      const names = new Map(resources.map((r) => [r.id, r.name]));
      this.print(
        formatTable(
          ['ID', 'SUBJECT', 'TARGET', 'MODE', 'VALID', 'MAX SESSION'],
          grants.map((g) => [
            g.id,
            g.subject.kind === 'user' ? `user:${g.subject.userId}` : `group:${g.subject.group}`,
            grantTarget(g, names),
            g.mode,
            validity(g),
            formatDuration(g.maxSessionSeconds),
          ]),
        ),
      );
    });
  }

  private async connect(resourceArgument: string, options: { json?: boolean }): Promise<void> {
    await this.withSignedIn(async ({ client }) => {
      const resources = await client.listResources();
      const resource =
        resources.find((r) => r.name === resourceArgument) ??
        resources.find((r) => r.id === resourceArgument);
      if (!resource) {
        throw new CliError(
          `No resource named '${resourceArgument}'. Run \`witness resources\` to see what you can use.`,
        );
      }
      const session = await client.createSession(resource.id);
      if (options.json) {
        this.printJson(session);
        return;
      }
      this.print(describeSession(resource, session));
    });
  }

  // --- sign-in machinery ---------------------------------------------------------------------

  /**
   * Decides which CA to trust for `url`: the pinned one (checked against what the gateway
   * presents now), or on first contact the presented one — if it matches the expected
   * fingerprint, or the person says so.
   */
  private async establishTrust(
    url: string,
    profile: Profile,
    options: { expected: string | null; source: string; yes: boolean },
  ): Promise<Trust> {
    const pinned = profile.gateways[url];
    if (pinned) {
      await checkPinnedCa(url, pinned.caFingerprint);
      if (options.expected && !fingerprintsEqual(options.expected, pinned.caFingerprint)) {
        throw new CliError(
          `${capitalize(options.source)} expects the CA fingerprint ${options.expected}, but the ` +
            `CA pinned for ${url} (and presented by it now) is ${pinned.caFingerprint}. ` +
            'Ask your admin which is right. To re-pin deliberately: ' +
            `\`witness logout --forget ${url}\`, then try again.`,
        );
      }
      return { caPem: pinned.caPem, caFingerprint: pinned.caFingerprint };
    }

    const presented = await fetchPresentedCa(url);
    this.info(
      `The gateway at ${url} presents a CA certificate with SHA-256 fingerprint\n` +
        `  ${presented.fingerprint}`,
    );
    if (options.expected) {
      if (!fingerprintsEqual(presented.fingerprint, options.expected)) {
        throw new CliError(
          `Not trusting the gateway at ${url}: it presents the CA fingerprint ` +
            `${presented.fingerprint}, but ${options.source} expects ${options.expected}. ` +
            'This can mean someone is intercepting the connection, or the URL points at another ' +
            'gateway. Nothing was sent to it and nothing was saved.',
        );
      }
      this.info(`It matches ${options.source}; pinning it.`);
    } else if (options.yes) {
      this.info('Trusting it as presented (--yes); pinning it.');
    } else if (this.io.isTTY) {
      const answer = await this.ask(
        'Compare it with the fingerprint your admin gave you. Trust this gateway? [y/N] ',
      );
      if (!/^\s*y(es)?\s*$/i.test(answer ?? '')) {
        throw new CliError('Not trusted; nothing was saved.');
      }
    } else {
      throw new CliError(
        `Refusing to trust the gateway at ${url} without confirmation (no terminal to ask on). ` +
          'Compare the fingerprint above with the one your admin gave you, then run again with ' +
          '--fingerprint <FINGERPRINT> (or --yes to trust whatever it presents).',
      );
    }
    return { caPem: presented.caPem, caFingerprint: presented.fingerprint };
  }

  /** Logs in, asking for a TOTP code when the gateway says the account needs one. */
  private signIn(
    account: AccountLifecycle,
    username: string,
    password: string,
    totp: string | undefined,
    stdinUsed: boolean,
  ): Promise<TokenPair> {
    return account.login({ username, password, ...(totp ? { totp } : {}) }, async () => {
      if (!this.io.isTTY || stdinUsed) {
        throw new CliError(`${username} signs in with a TOTP code as well: pass --totp CODE.`);
      }
      const answer = await this.ask('TOTP code (from your authenticator app): ');
      return parseTotp(answer?.trim() ?? '', 'the TOTP code');
    });
  }

  /** Stores the sign-in (ending the previous one at this gateway) and says where it went. */
  private async saveSignedIn(account: AccountLifecycle, pair: TokenPair): Promise<void> {
    const { store, keychainUnavailable } = await this.credentials();
    await account.adopt(pair);
    this.print(
      `Signed in to ${account.url} as ${pair.user.username} (${pair.user.role}). ` +
        `Credentials stored in ${store.describe}.`,
    );
    if (keychainUnavailable && !this.io.env.WITNESS_CREDENTIAL_STORE) {
      this.info(`note: the OS keychain was not used — ${keychainUnavailable}.`);
    }
  }

  /**
   * The account lifecycle for `url`, trusting `pin`: tokens in the credential store (shared
   * with every other `witness` process), who is signed in in profile.json. `storedUser` names
   * the user whose stored sign-in to act on even when the profile says signed out (logout).
   */
  private async account(
    url: string,
    pin: Trust,
    options: { storedUser?: string } = {},
  ): Promise<AccountLifecycle> {
    const { store } = await this.credentials();
    const configDir = this.configDir;
    const profile: AccountProfile = {
      async signedInUsername() {
        if (options.storedUser) return options.storedUser;
        const entry = (await loadProfile(configDir)).gateways[url];
        return entry?.signedIn && entry.username ? entry.username : null;
      },
      async recordSignedIn({ username, caPem, caFingerprint }) {
        const latest = await loadProfile(configDir);
        latest.gateways[url] = {
          caPem,
          caFingerprint,
          pinnedAt: latest.gateways[url]?.pinnedAt ?? new Date().toISOString(),
          username,
          signedIn: true,
        };
        latest.current = url;
        await saveProfile(configDir, latest);
      },
      async recordSignedOut() {
        const latest = await loadProfile(configDir);
        const entry = latest.gateways[url];
        if (!entry) return;
        entry.signedIn = false;
        await saveProfile(configDir, latest);
      },
    };
    const timeout = Number(this.io.env.WITNESS_TIMEOUT_MS);
    const account = new AccountLifecycle({
      url,
      caPem: pin.caPem,
      caFingerprint: pin.caFingerprint,
      vaultFor: (username) => profileSessionVault(store, configDir, url, username),
      profile,
      ...(timeout > 0 ? { timeoutMs: timeout } : {}),
      revokeFailed: (error, session) =>
        this.info(
          `note: could not revoke the session on the gateway (${messageOf(error)}); ` +
            `it stays valid until ${session.refreshExpiresAt} unless an admin revokes it.`,
        ),
    });
    this.accounts.push(account);
    return account;
  }

  /** Runs `action` with a client signed in to the current gateway. */
  private async withSignedIn(action: (signedIn: SignedIn) => Promise<void>): Promise<void> {
    const profile = await loadProfile(this.configDir);
    const url = profile.current;
    const entry = url ? profile.gateways[url] : undefined;
    if (!url || !entry) {
      throw new CliError('Not signed in — run `witness login https://gateway:port` first.');
    }
    const notSignedIn = new CliError(`Not signed in — run \`witness login ${url}\` first.`);
    const expired = new CliError(
      `Your session with ${url} expired — run \`witness login ${url}\` again.`,
    );
    if (!entry.signedIn || !entry.username) throw notSignedIn;
    const username = entry.username;
    const account = await this.account(url, entry);
    const session = await account.resume();
    if (!session) throw notSignedIn;
    if (Date.parse(session.refreshExpiresAt) <= Date.now()) throw expired;

    try {
      await account.run((client) => action({ url, username, client }));
    } catch (error) {
      // Expired, or ended by the gateway (a replayed token, a revocation): said apart (#12).
      const ended = signInEnded(error);
      if (ended) throw new CliError(describeSignInEnded(url, ended));
      if (error instanceof NotSignedInError) throw notSignedIn;
      if (error instanceof SessionNotSavedError) throw new CliError(error.message);
      throw error;
    }
  }

  private async readPassword(fromStdin: boolean, prompt: string): Promise<string> {
    if (fromStdin) {
      const password = await readAllInput(this.io.stdin);
      if (!password) throw new UsageError('--password-stdin: stdin was empty.');
      return password;
    }
    if (!this.io.isTTY) {
      throw new UsageError(
        'No terminal to ask for the password on: pipe it in with --password-stdin.',
      );
    }
    const password = await askSecret(this.io.stdin, this.io.stderr, prompt);
    if (!password) throw new CliError('No password given.');
    return password;
  }

  private async readNewPassword(fromStdin: boolean): Promise<string> {
    let password: string;
    if (fromStdin) {
      password = await this.readPassword(true, '');
    } else {
      password = await this.readPassword(false, 'Choose a password (at least 10 characters): ');
      const again = await askSecret(this.io.stdin, this.io.stderr, 'Repeat it: ');
      if (again !== password) throw new CliError('The two passwords differ; nothing was changed.');
    }
    const valid = passwordSchema.safeParse(password);
    if (!valid.success) {
      throw new CliError(`That password cannot be used: ${valid.error.issues[0]?.message}.`);
    }
    return password;
  }

  private credentials(): Promise<OpenedCredentialStore> {
    this.credentialStore ??= (async () =>
      openCredentialStore(this.configDir, {
        choice: parseCredentialStoreChoice(this.io.env.WITNESS_CREDENTIAL_STORE),
        ...(this.io.env.HOME ? { home: this.io.env.HOME } : {}),
      }))();
    return this.credentialStore;
  }

  closeClients(): void {
    for (const account of this.accounts) account.dispose();
  }

  // --- output --------------------------------------------------------------------------------

  private ask(question: string): Promise<string | null> {
    return askLine(this.io.stdin, this.io.stderr, question);
  }

  private print(text: string): void {
    this.io.stdout.write(`${text}\n`);
  }

  private printJson(value: unknown): void {
    this.print(JSON.stringify(value, null, 2));
  }

  /** Progress and notes: stderr, so stdout carries only results. */
  private info(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** Prints an error and returns the exit code for it. */
  report(error: unknown): number {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') {
        return EXIT_OK;
      }
      // `witness help` exits 0; help shown because no command was given exits 1 in commander.
      if (error.code === 'commander.help') return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
      // Commander has printed its message already.
      return EXIT_USAGE;
    }
    const fail = (message: string, code: number) => {
      this.io.stderr.write(`witness: ${message}\n`);
      if (this.io.env.WITNESS_DEBUG && error instanceof Error && error.stack) {
        this.io.stderr.write(`${error.stack}\n`);
      }
      return code;
    };
    if (error instanceof UsageError) return fail(error.message, EXIT_USAGE);
    if (error instanceof InvalidGatewayUrlError) return fail(error.message, EXIT_USAGE);
    if (error instanceof InvalidEnrollLinkError) return fail(error.message, EXIT_USAGE);
    if (error instanceof PromptCancelledError) return fail('cancelled.', EXIT_ERROR);
    if (error instanceof GatewayApiError) {
      const issues = error.issues.map((i) => `\n  ${i.path ? `${i.path}: ` : ''}${i.message}`);
      const retry = error.retryAfter ? ` Try again after ${error.retryAfter}.` : '';
      return fail(`${error.message}${retry}${issues.join('')}`, EXIT_ERROR);
    }
    if (
      error instanceof CliError ||
      error instanceof CaMismatchError ||
      error instanceof CaDiscoveryError ||
      error instanceof GatewayConnectionError ||
      error instanceof GatewayProtocolError ||
      error instanceof InvalidRequestError
    ) {
      return fail(error.message, EXIT_ERROR);
    }
    return fail(messageOf(error), EXIT_ERROR);
  }
}

// ---------------------------------------------------------------------------------------------

function parseUrlArgument(value: string): string {
  return normalizeGatewayUrl(value);
}

function parseFingerprintOption(value: string | undefined): string | null {
  if (value === undefined) return null;
  const normalized = normalizeFingerprint(value);
  if (!normalized) {
    throw new UsageError(
      '--fingerprint must be a SHA-256 fingerprint: 64 hex digits, colons optional',
    );
  }
  return normalized;
}

function parseTotp(value: string, what: string): string {
  const code = value.replace(/\s/g, '');
  if (!/^\d{6}$/.test(code)) throw new UsageError(`${what} must be six digits.`);
  return code;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function formatLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

function grantTarget(grant: Grant, names: Map<string, string>): string {
  if (grant.target.kind === 'resource') {
    return `resource:${names.get(grant.target.resourceId) ?? grant.target.resourceId}`;
  }
  const selector = formatLabels(grant.target.selector);
  return `labels:${selector || '(all)'}`;
}

function validity(grant: Grant): string {
  if (!grant.validFrom && !grant.validUntil) return 'always';
  return `${grant.validFrom ?? '…'} – ${grant.validUntil ?? '…'}`;
}

function formatDuration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

function describeSession(resource: Resource, session: CreateSessionResponse): string {
  const lines = [
    `Session ${session.sessionId} for ${resource.name} (${resource.target.kind}); ` +
      `the gateway ends it at ${session.expiresAt}.`,
  ];
  const endpoint = session.endpoint;
  if (!endpoint) {
    lines.push(
      `This gateway has no ${resource.target.kind} listener yet, so there is nowhere to connect.`,
    );
    return lines.join('\n');
  }
  const where = hostPort(endpoint.host, endpoint.port);
  lines.push(`Connect to ${where} before ${session.ticketExpiresAt} (the ticket works once):`);
  if (endpoint.protocol === 'ssh') {
    lines.push(`  ssh -p ${endpoint.port} ${session.sessionId}@${endpoint.host}`);
  } else {
    lines.push(
      `  psql "host=${endpoint.host} port=${endpoint.port} user=${session.sessionId} ` +
        `dbname=${resource.target.kind === 'postgres' ? resource.target.database : ''} ` +
        'sslmode=require"',
    );
  }
  lines.push('and give the ticket as the password:', `  ${session.ticket}`);
  return lines.join('\n');
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function readVersion(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}
