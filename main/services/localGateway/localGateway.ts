/**
 * The embedded local gateway `npm start` runs when no gateway is enrolled (DESIGN.md "Try it
 * locally"): a separate `witness-gateway serve` process with SQLite in `<dataDir>/gateway`,
 * its API, SSH and PostgreSQL listeners on loopback ports that stay the same across restarts
 * (localPorts.ts), and the demo targets beside it.
 *
 * Status: starting → needs-admin (no user yet: the first-run walkthrough creates one) or
 * ready; failed with the gateway's own last words. The process is told to exit when its stdin
 * pipe closes, so it does not outlive a desktop that crashed.
 *
 * Plain Node, no Electron; main/ never imports gateway/ — it runs the gateway's CLI.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { GatewayClient } from '../../../gateway-client/gatewayClient.ts';
import { passwordSchema, usernameSchema } from '../../../shared/api/apiSchemas.ts';
import { DesktopError } from '../../ipc/contract.ts';
import {
  type DemoTargetOptions,
  type RunningDemoTargets,
  startDemoTargets,
} from './demoTargets/demoTargets.ts';
import { provisionDemoTargets } from './demoTargets/provisionDemoTargets.ts';
import { GatewayStartError, type RunningGatewayChild, spawnGatewayChild } from './gatewayChild.ts';
import type { LocalGatewayStatus } from './localGatewayStatus.ts';
import { LOOPBACK, type LocalPorts, reserveLocalPorts } from './localPorts.ts';

export type { LocalGatewayStatus } from './localGatewayStatus.ts';

export interface LocalGatewayConnection {
  /** `https://127.0.0.1:<port>` */
  url: string;
  caPem: string;
  caFingerprint: string;
}

export interface LocalGatewayOptions {
  /** The desktop's own folder for the local gateway (keys, database, recordings, demo targets). */
  dataDir: string;
  /** bin/witness-gateway.mjs */
  gatewayBin: string;
  log?: (line: string) => void;
  /** Demo targets: off entirely, or tuned (tests). Default: both, OpenSSH preferred. */
  demoTargets?: false | DemoTargetOptions;
  /** How long SIGTERM may take before SIGKILL (default 5 s). */
  stopGraceMs?: number;
}

const LOCAL_NOTE = 'Local gateway — for evaluation: history here is only as safe as this machine.';

export class LocalGateway {
  private current: LocalGatewayStatus;
  private readonly listeners = new Set<(status: LocalGatewayStatus) => void>();
  private child: RunningGatewayChild | undefined;
  private demo: RunningDemoTargets | undefined;
  private connection: LocalGatewayConnection | undefined;
  private starting: Promise<LocalGatewayConnection> | undefined;
  private stopping = false;
  private readonly log: (line: string) => void;

  constructor(private readonly options: LocalGatewayOptions) {
    this.log = options.log ?? (() => {});
    this.current = {
      state: 'not-used',
      message: null,
      dataDir: options.dataDir,
      demoTargets: [],
    };
  }

  /** Where the gateway process keeps its data (pass as `--data` to its CLI). */
  get gatewayDataDir(): string {
    return path.join(this.options.dataDir, 'gateway');
  }

  /** The ports in use (after start). */
  ports: LocalPorts | undefined;

  status(): LocalGatewayStatus {
    return structuredClone(this.current);
  }

  onStatusChange(listener: (status: LocalGatewayStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts the gateway and the demo targets; resolves once the API answers. Idempotent. */
  start(): Promise<LocalGatewayConnection> {
    if (this.connection && this.child) return Promise.resolve(this.connection);
    this.starting ??= this.startNow().finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  private async startNow(): Promise<LocalGatewayConnection> {
    this.stopping = false;
    this.update({ state: 'starting', message: 'Starting the local gateway…', demoTargets: [] });
    try {
      mkdirSync(this.gatewayDataDir, { recursive: true, mode: 0o700 });
      const { ports, changed } = await reserveLocalPorts(this.options.dataDir);
      this.ports = ports;
      if (changed.length > 0) this.log(`local gateway ports chosen for: ${changed.join(', ')}`);
      const demoOptions = this.options.demoTargets;
      const [childResult, demoResult] = await Promise.allSettled([
        spawnGatewayChild({
          gatewayBin: this.options.gatewayBin,
          args: [
            '--data',
            this.gatewayDataDir,
            '--api',
            `${LOOPBACK}:${ports.api}`,
            '--ssh',
            `${LOOPBACK}:${ports.ssh}`,
            '--postgres',
            `${LOOPBACK}:${ports.postgres}`,
          ],
          onStderr: (text) => {
            for (const line of text.split('\n')) if (line.trim()) this.log(`gateway: ${line}`);
          },
        }),
        demoOptions === false
          ? Promise.resolve(undefined)
          : startDemoTargets(
              path.join(this.options.dataDir, 'demo'),
              { ssh: ports.demoSsh, postgres: ports.demoPostgres },
              { log: this.log, ...demoOptions },
            ),
      ]);
      // Whatever did start is kept where stopProcesses finds it, so a failed start leaves
      // nothing running.
      if (demoResult.status === 'fulfilled') this.demo = demoResult.value;
      if (childResult.status === 'rejected') throw childResult.reason;
      if (demoResult.status === 'rejected') {
        await childResult.value.stop();
        throw demoResult.reason;
      }
      const child = childResult.value;
      const demo = demoResult.value;
      this.child = child;
      void child.exited.then((code) => this.onExit(child, code));
      const caPem = readFileSync(path.join(this.gatewayDataDir, 'tls', 'ca.crt'), 'utf8');
      this.connection = { url: child.ready.api, caPem, caFingerprint: child.ready.caFingerprint };
      const admins = await this.adminCount();
      this.update({
        state: admins === 0 ? 'needs-admin' : 'ready',
        message:
          admins === 0 ? `${LOCAL_NOTE} Create the first admin account to start.` : LOCAL_NOTE,
        demoTargets: demo?.statuses ?? [],
      });
      return this.connection;
    } catch (error) {
      const message =
        error instanceof GatewayStartError || error instanceof Error
          ? error.message
          : String(error);
      await this.stopProcesses();
      this.update({
        state: 'failed',
        message: `The local gateway could not start: ${message}`,
        demoTargets: [],
      });
      throw new DesktopError(
        'gateway_unreachable',
        `The local gateway could not start: ${message}`,
      );
    }
  }

  /**
   * First run: creates the admin account and returns its one-time enrollment link (the caller
   * enrolls with it and `password`, which is checked here first so the account is usable).
   */
  async createAdmin(username: string, password: string): Promise<{ enrollLink: string }> {
    const name = usernameSchema.safeParse(username);
    if (!name.success) {
      throw new DesktopError(
        'invalid_request',
        'Choose a user name of lower-case letters, digits, dots, dashes or underscores (at most 63), starting with a letter or digit.',
      );
    }
    const secret = passwordSchema.safeParse(password);
    if (!secret.success) {
      throw new DesktopError(
        'invalid_request',
        'Choose a password of at least 10 characters (at most 1024).',
      );
    }
    const connection = this.connection;
    if (!connection || !this.child) {
      throw new DesktopError('no_gateway', 'The local gateway is not running; start it first.');
    }
    if ((await this.adminCount()) > 0) {
      throw new DesktopError(
        'conflict',
        'The local gateway already has an admin account; sign in with it instead.',
      );
    }
    const result = await this.runCli([
      'admin',
      'create-user',
      '--data',
      this.gatewayDataDir,
      '--username',
      name.data,
      '--role',
      'admin',
      '--gateway-url',
      connection.url,
    ]).catch((error: Error) => {
      throw new DesktopError(
        /already exists/.test(error.message) ? 'conflict' : 'internal',
        `Creating the admin account failed: ${error.message}`,
      );
    });
    const enrollLink = result.split('\n').find((line) => line.startsWith('witness://enroll?'));
    if (!enrollLink) {
      throw new DesktopError('internal', 'The local gateway did not return an enrollment link.');
    }
    this.update({ state: 'ready', message: LOCAL_NOTE });
    return { enrollLink: enrollLink.trim() };
  }

  /** Creates or updates the demo resources and the admin's standing grant on them. */
  async provisionDemoTargets(admin: GatewayClient, adminUserId: string): Promise<void> {
    if (!this.demo) return;
    await provisionDemoTargets(admin, adminUserId, this.demo);
  }

  /** Stops the gateway (SIGTERM, then SIGKILL) and the demo targets. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.starting?.catch(() => {});
    await this.stopProcesses();
    this.update({ state: 'not-used', message: null, demoTargets: [] });
  }

  private async stopProcesses(): Promise<void> {
    const child = this.child;
    const demo = this.demo;
    this.child = undefined;
    this.demo = undefined;
    this.connection = undefined;
    await Promise.all([
      child?.stop(this.options.stopGraceMs),
      demo?.stop().catch((error: unknown) => this.log(`stopping demo targets: ${String(error)}`)),
    ]);
  }

  private onExit(child: RunningGatewayChild, code: number | null): void {
    if (this.stopping || this.child !== child) return;
    this.child = undefined;
    this.connection = undefined;
    void this.demo?.stop();
    this.demo = undefined;
    const tail = child.stderrTail();
    this.update({
      state: 'failed',
      message: `The local gateway stopped unexpectedly (exit code ${code}).${tail ? ` Its last output:\n${tail}` : ''}`,
      demoTargets: [],
    });
  }

  private async adminCount(): Promise<number> {
    const out = await this.runCli(['admin', 'status', '--data', this.gatewayDataDir]);
    const line = out.split('\n').find((l) => l.startsWith('{'));
    const parsed = line ? (JSON.parse(line) as { admins?: unknown }) : {};
    if (typeof parsed.admins !== 'number') {
      throw new Error(`unexpected answer from witness-gateway admin status: ${out.trim()}`);
    }
    return parsed.admins;
  }

  private runCli(args: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      execFile(
        process.execPath,
        [this.options.gatewayBin, ...args],
        { timeout: 60_000 },
        (error, stdout, stderr) => {
          if (error) {
            const said = stderr
              .trim()
              .replace(/^witness-gateway:\s*/, '')
              .split('\n')
              .slice(-3)
              .join(' ');
            reject(new Error(said || error.message));
          } else {
            resolve(stdout);
          }
        },
      );
    });
  }

  private update(change: Partial<LocalGatewayStatus>): void {
    this.current = { ...this.current, ...change, dataDir: this.options.dataDir };
    const snapshot = this.status();
    for (const listener of this.listeners) {
      try {
        listener(snapshot);
      } catch (error) {
        this.log(`local gateway status listener failed: ${String(error)}`);
      }
    }
  }
}
