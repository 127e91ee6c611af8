/**
 * The embedded local gateway (main/services/localGateway/) with the real `witness-gateway`
 * binary: from an empty folder to needs-admin, the admin's enrollment link, demo targets on
 * this machine provisioned as resources, a terminal on the demo sshd and a `pg` query on the
 * demo PostgreSQL — both through the gateway — then a restart that keeps data and ports, and a
 * restart whose stored port was taken meanwhile.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseEnrollLink } from '../../gateway-client/enrollLink.ts';
import { GatewayClient, type SessionTokens } from '../../gateway-client/gatewayClient.ts';
import type { CallerContext, EventName, EventPayload } from '../../main/ipc/contract.ts';
import {
  demoPostgresClusterDir,
  postgresUnavailableReason,
} from '../../main/services/localGateway/demoTargets/demoPostgres.ts';
import { opensshUnavailableReason } from '../../main/services/localGateway/demoTargets/demoSshd.ts';
import {
  LocalGateway,
  type LocalGatewayConnection,
  type LocalGatewayStatus,
} from '../../main/services/localGateway/localGateway.ts';
import { readStoredPorts } from '../../main/services/localGateway/localPorts.ts';
import { gatewayTerminalSessions } from '../../main/services/terminals/gatewayTerminalSessions.ts';
import { TerminalService } from '../../main/services/terminals/terminalService.ts';
import { GATEWAY_BIN } from '../harness/gatewayProcess.ts';
import { itNeeding } from '../harness/needs.ts';

const ADMIN = 'eva';
const PASSWORD = 'evaluation-password-1';

function signedIn(connection: LocalGatewayConnection) {
  let tokens: SessionTokens | null = null;
  const client = new GatewayClient(
    { baseUrl: connection.url, caPem: connection.caPem },
    {
      tokens: () => tokens,
      tokensRefreshed: (pair) => {
        tokens = pair;
      },
    },
  );
  return {
    client,
    async login() {
      const pair = await client.login({ username: ADMIN, password: PASSWORD });
      tokens = pair;
      return pair;
    },
  };
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, ms = 10_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const missing = opensshUnavailableReason() ?? postgresUnavailableReason();
if (missing)
  console.warn(`[localGateway.test] demo targets will be partly unavailable: ${missing}`);

describe('the local gateway', () => {
  let dataDir: string;
  const statuses: LocalGatewayStatus[] = [];
  let local: LocalGateway;
  let connection: LocalGatewayConnection;
  let admin: ReturnType<typeof signedIn>;
  let adminUserId: string;
  let blocker: Server | undefined;

  beforeAll(() => {
    // Made here, not at collection, so a filtered run that skips this suite leaves no folder.
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'witness-local-'));
    local = new LocalGateway({ dataDir, gatewayBin: GATEWAY_BIN, stopGraceMs: 5_000 });
    local.onStatusChange((status) => statuses.push(status));
  });

  afterAll(async () => {
    admin?.client.close();
    await local?.stop();
    blocker?.close();
    if (dataDir) {
      rmSync(demoPostgresClusterDir(path.join(dataDir, 'demo')), { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('starts from an empty folder and asks for an admin', async () => {
    expect(local.status()).toMatchObject({ state: 'not-used', dataDir });
    connection = await local.start();
    expect(connection.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(connection.caPem).toContain('BEGIN CERTIFICATE');
    expect(statuses.map((s) => s.state)).toEqual(['starting', 'needs-admin']);
    const status = local.status();
    expect(status.state).toBe('needs-admin');
    expect(status.message).toMatch(/for evaluation/);
    expect(status.demoTargets.map((t) => [t.name, t.kind])).toEqual([
      ['demo-ssh', 'ssh'],
      ['demo-postgres', 'postgres'],
    ]);
    if (!missing) expect(status.demoTargets.every((t) => t.available)).toBe(true);
    expect(status.demoTargets[0]?.note).toMatch(/OpenSSH sshd on 127\.0\.0\.1/);
  }, 120_000);

  it('validates the admin account before creating it', async () => {
    await expect(local.createAdmin('Not Valid!', PASSWORD)).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/lower-case/),
    });
    await expect(local.createAdmin(ADMIN, 'short')).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringMatching(/at least 10/),
    });
    expect(local.status().state).toBe('needs-admin');
  });

  it('creates the admin and returns an enrollment link that signs in', async () => {
    const { enrollLink } = await local.createAdmin(ADMIN, PASSWORD);
    const link = parseEnrollLink(enrollLink);
    expect(link.gateway).toBe(connection.url);
    expect(link.fingerprint).toBe(connection.caFingerprint);
    expect(local.status().state).toBe('ready');
    await expect(local.createAdmin('second', PASSWORD)).rejects.toMatchObject({
      code: 'conflict',
    });

    admin = signedIn(connection);
    await admin.client.enroll({ token: link.token, password: PASSWORD });
    const tokens = await admin.login();
    expect(tokens.user).toMatchObject({ username: ADMIN, role: 'admin' });
    adminUserId = tokens.user.id;
  }, 60_000);

  it('provisions the demo targets idempotently, labelled and granted to the admin', async () => {
    await local.provisionDemoTargets(admin.client, adminUserId);
    await local.provisionDemoTargets(admin.client, adminUserId);
    const resources = await admin.client.listResources();
    const demo = resources.filter((r) => r.labels.demo === 'true');
    expect(demo.map((r) => r.name).sort()).toEqual(
      missing ? expect.any(Array) : ['demo-postgres', 'demo-ssh'],
    );
    for (const resource of demo) {
      expect(resource.description).toMatch(/Demo target on this machine \(127\.0\.0\.1\)/);
      expect(resource.access).toBe('admin');
    }
    const ssh = demo.find((r) => r.name === 'demo-ssh');
    expect(ssh?.target).toMatchObject({ kind: 'ssh', host: '127.0.0.1' });
    expect(ssh?.target.kind === 'ssh' && ssh.target.hostKey).toMatch(/^ssh-ed25519 /);
    expect(ssh?.secretSet.privateKey).toBe(true);
    const grants = await admin.client.listGrants();
    for (const resource of demo) {
      const forIt = grants.filter(
        (g) => g.target.kind === 'resource' && g.target.resourceId === resource.id,
      );
      expect(forIt).toHaveLength(1);
      expect(forIt[0]?.subject).toEqual({ kind: 'user', userId: adminUserId });
    }
  });

  itNeeding(opensshUnavailableReason())(
    'opens a terminal on the demo sshd through the gateway',
    async () => {
      const resources = await admin.client.listResources();
      const ssh = resources.find((r) => r.name === 'demo-ssh')!;
      const terminals = new TerminalService({
        sessions: gatewayTerminalSessions(() => admin.client),
      });
      let output = '';
      const ended: unknown[] = [];
      const caller: CallerContext = {
        clientId: 'local-test',
        emit: <E extends EventName>(name: E, payload: EventPayload<E>) => {
          if (name === 'terminal.data') output += (payload as EventPayload<'terminal.data'>).data;
          if (name === 'terminal.ended')
            ended.push((payload as EventPayload<'terminal.ended'>).reason);
        },
      };
      try {
        const opened = await terminals.open(caller, {
          resourceId: ssh.id,
          size: { cols: 80, rows: 24 },
        });
        expect(opened.resourceName).toBe('demo-ssh');
        terminals.write('local-test', opened.terminalId, 'echo $((6*7)); exit\n');
        await waitFor('the exit', () => ended.length > 0);
        // Without the control sequences bash writes around each command (bracketed paste).
        // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ESC is the point
        const readable = output.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '');
        expect(readable).toMatch(/\n42\n/);
        expect(ended).toEqual([{ kind: 'exited', exitCode: 0, signal: null }]);
      } finally {
        await terminals.dispose();
      }
    },
    30_000,
  );

  itNeeding(postgresUnavailableReason())(
    'serves the demo PostgreSQL through the gateway',
    async () => {
      const resources = await admin.client.listResources();
      const db = resources.find((r) => r.name === 'demo-postgres')!;
      const session = await admin.client.createSession(db.id);
      expect(session.endpoint?.protocol).toBe('postgres');
      const client = new pg.Client({
        host: session.endpoint!.host,
        port: session.endpoint!.port,
        user: session.sessionId,
        password: session.ticket,
        database: 'ignored-by-the-gateway',
        ssl: { ca: connection.caPem, servername: 'localhost' },
      });
      client.on('error', () => {});
      await client.connect();
      try {
        const result = await client.query<{ name: string; email: string }>(
          'SELECT name, email FROM customers ORDER BY id',
        );
        expect(result.rows).toHaveLength(5);
        expect(result.rows[0]).toEqual({ name: 'Ada Lovelace', email: 'ada@example.com' });
      } finally {
        await client.end();
      }
    },
    30_000,
  );

  it('stops, and starts again with the same data and ports', async () => {
    const before = readStoredPorts(dataDir);
    await local.stop();
    expect(local.status().state).toBe('not-used');
    // The API no longer answers.
    await expect(admin.client.health()).rejects.toThrow();

    const again = await local.start();
    expect(again.url).toBe(connection.url);
    expect(again.caFingerprint).toBe(connection.caFingerprint);
    expect(readStoredPorts(dataDir)).toEqual(before);
    expect(local.status().state).toBe('ready');
    await admin.login();
    await local.provisionDemoTargets(admin.client, adminUserId);
    const resources = await admin.client.listResources();
    expect(resources.filter((r) => r.labels.demo === 'true').length).toBeGreaterThan(0);
  }, 120_000);

  it('moves to a free port when the stored one was taken, keeping the CA', async () => {
    const before = readStoredPorts(dataDir);
    await local.stop();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(before.api, '127.0.0.1', resolve));
    const moved = await local.start();
    expect(moved.url).not.toBe(connection.url);
    expect(moved.caFingerprint).toBe(connection.caFingerprint);
    expect(readStoredPorts(dataDir).api).not.toBe(before.api);
    expect(readStoredPorts(dataDir).ssh).toBe(before.ssh);
    expect(local.status().state).toBe('ready');
  }, 120_000);
});

describe('the local gateway with the built-in SSH demo target', () => {
  it('serves a shell through the gateway without OpenSSH sshd', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-local-inproc-'));
    const local = new LocalGateway({
      dataDir: dir,
      gatewayBin: GATEWAY_BIN,
      demoTargets: { forceInProcessSsh: true, skipPostgres: true },
    });
    let admin: ReturnType<typeof signedIn> | undefined;
    const terminals = new TerminalService({
      // Signed in below, before the first terminal opens.
      sessions: gatewayTerminalSessions(() => admin!.client),
    });
    try {
      const connection = await local.start();
      const [ssh, postgres] = local.status().demoTargets;
      expect(ssh).toMatchObject({ name: 'demo-ssh', available: true });
      expect(ssh?.note).toMatch(/built-in SSH server/);
      expect(postgres).toMatchObject({ name: 'demo-postgres', available: false });
      const { enrollLink } = await local.createAdmin(ADMIN, PASSWORD);
      admin = signedIn(connection);
      await admin.client.enroll({ token: parseEnrollLink(enrollLink).token, password: PASSWORD });
      const pair = await admin.login();
      await local.provisionDemoTargets(admin.client, pair.user.id);
      const resources = await admin.client.listResources();
      expect(resources.map((r) => r.name)).toEqual(['demo-ssh']);

      let output = '';
      const ended: unknown[] = [];
      const opened = await terminals.open(
        {
          clientId: 'inproc',
          emit: <E extends EventName>(name: E, payload: EventPayload<E>) => {
            if (name === 'terminal.data') output += (payload as EventPayload<'terminal.data'>).data;
            if (name === 'terminal.ended')
              ended.push((payload as EventPayload<'terminal.ended'>).reason);
          },
        },
        { resourceId: resources[0]!.id, size: { cols: 80, rows: 24 } },
      );
      terminals.write('inproc', opened.terminalId, 'echo $((6*7)); exit 4\n');
      await waitFor('the exit', () => ended.length > 0, 15_000);
      expect(output).toMatch(/42/);
      expect(ended).toEqual([{ kind: 'exited', exitCode: 4, signal: null }]);
    } finally {
      await terminals.dispose();
      admin?.client.close();
      await local.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the local gateway failing', () => {
  it('reports failed with what the gateway said', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-local-fail-'));
    const fakeBin = path.join(dir, 'broken-gateway.mjs');
    writeFileSync(
      fakeBin,
      "process.stderr.write('cannot open the database: disk full\\n'); process.exit(3);\n",
    );
    const local = new LocalGateway({ dataDir: dir, gatewayBin: fakeBin, demoTargets: false });
    try {
      await expect(local.start()).rejects.toMatchObject({ code: 'gateway_unreachable' });
      const status = local.status();
      expect(status.state).toBe('failed');
      expect(status.message).toMatch(/exited \(code 3\)/);
      expect(status.message).toMatch(/disk full/);
    } finally {
      await local.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('witness-gateway serve --exit-with-parent', () => {
  it('exits when its stdin pipe closes (the desktop died)', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-orphan-'));
    const child = spawn(
      process.execPath,
      [GATEWAY_BIN, 'serve', '--data', dir, '--api', '127.0.0.1:0', '--exit-with-parent'],
      { stdio: ['pipe', 'pipe', 'pipe'] },
    );
    try {
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      await waitFor('the ready line', () => stdout.includes('"ready":true'), 60_000);
      const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
      child.stdin.end();
      const code = await Promise.race([
        exited,
        new Promise<'still running'>((resolve) =>
          setTimeout(() => resolve('still running'), 10_000),
        ),
      ]);
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
