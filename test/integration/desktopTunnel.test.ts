/**
 * Tunnels and "Copy connection for DBeaver/pgAdmin" in the desktop (issue #15), through the
 * desktop's own services (createDesktopApp driven by the contract's dispatcher, not the CLI)
 * against a real gateway process with its PostgreSQL listener, the run's PostgreSQL 15, and
 * real `psql` and `pgbench`: every connection through an open tunnel is its own session under
 * the user's name, with its recording; the port is remembered; a busy port is a sentence; the
 * grant's end closes the tunnel with a message; quitting closes it. The desktop's database
 * certificate works with psql under verify-full, and is refused once the grant is revoked.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect as connectTcp, createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { DesktopError, type TunnelView } from '../../main/ipc/contract.ts';
import { TUNNEL_PORTS_FILE } from '../../main/services/tunnels/tunnelPorts.ts';
import { type DesktopForTest, openDesktopForTest } from '../harness/desktopForTests.ts';
import {
  createAdmin,
  type GatewayProcess,
  runCommand,
  signedInClient,
  spawnGateway,
} from '../harness/gatewayProcess.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import { addPostgresTarget } from '../harness/postgresTarget.ts';
import { PSQL_BIN } from '../harness/postgresTestBed.ts';
import { testEncryptor } from '../harness/testEncryptor.ts';
import { waitFor } from '../harness/waitFor.ts';

const PGBENCH_BIN = process.env.WITNESS_PGBENCH_BIN ?? '/usr/bin/pgbench';
const TOOL_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  LANG: 'C.UTF-8',
  PGCONNECT_TIMEOUT: '20',
  // No ~/.postgresql defaults and no PG* variables: only what the copied line names.
  HOME: os.tmpdir(),
};
const PASSWORD = 'alice-password-1';

describeWithPostgres(
  'tunnels and database certificates in the desktop (real gateway, psql, pgbench)',
  () => {
    let work: string;
    let gateway: GatewayProcess;
    let admin: GatewayClient;
    let aliceId: string;
    let desktop: DesktopForTest;
    const resourceIds: Record<string, string> = {};
    const psql = (conninfo: string, sql: string) =>
      runCommand(PSQL_BIN, ['-X', '-A', '-t', conninfo, '-c', sql], { env: TOOL_ENV });
    const aliceSessions = async (resource: string) =>
      (await admin.listSessions({ resourceId: resourceIds[resource] ?? '' })).filter(
        (session) => session.userId === aliceId,
      );
    const tunnelOf = async (tunnelId: string) =>
      (await desktop.call('tunnels.list', {})).tunnels.find((t) => t.tunnelId === tunnelId);
    const refusal = async (work: Promise<unknown>): Promise<DesktopError> => {
      try {
        await work;
      } catch (error) {
        if (error instanceof DesktopError) return error;
        throw error;
      }
      throw new Error('expected the call to be refused');
    };
    const deleteGrantOf = async (resource: string) => {
      const grant = (await admin.listGrants()).find(
        (g) => g.target.kind === 'resource' && g.target.resourceId === resourceIds[resource],
      );
      if (!grant) throw new Error(`no grant for ${resource}`);
      await admin.deleteGrant(grant.id);
    };

    beforeAll(async () => {
      work = mkdtempSync(path.join(os.tmpdir(), 'witness-desktop-tunnel-'));
      const dataDir = path.join(work, 'gw');
      gateway = await spawnGateway([
        '--data',
        dataDir,
        '--api',
        '127.0.0.1:0',
        '--postgres',
        '127.0.0.1:0',
      ]);
      await createAdmin(dataDir, 'root', 'root-password-1');
      admin = await signedInClient(gateway.ready.api, dataDir, {
        username: 'root',
        password: 'root-password-1',
      });
      aliceId = (
        await admin.createUser({ username: 'alice', role: 'engineer', password: PASSWORD })
      ).user.id;
      for (const name of ['orders-db', 'audit-db', 'cert-db']) {
        resourceIds[name] = (
          await addPostgresTarget(admin, { name, grantTo: { userId: aliceId } })
        ).resourceId;
      }
      const dir = path.join(work, 'desktop');
      desktop = await openDesktopForTest({ dir, encryptor: testEncryptor(), wire: [] });
      await desktop.call('gateway.pin', {
        url: gateway.ready.api,
        caFingerprint: gateway.ready.caFingerprint,
      });
      await desktop.call('account.login', { username: 'alice', password: PASSWORD });
    }, 120_000);
    afterAll(async () => {
      await desktop?.app.dispose();
      admin?.close();
      await gateway?.stop();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    it('psql and pgbench through an open tunnel: each connection a recorded session of alice, shown live', async () => {
      const tunnel = await desktop.call('tunnels.open', {
        resourceId: resourceIds['orders-db'] ?? '',
      });
      expect(tunnel).toMatchObject({
        resourceName: 'orders-db',
        host: '127.0.0.1',
        state: { kind: 'open' },
      });
      expect(tunnel.lines.psql).toBe(`psql "${tunnel.lines.conninfo}"`);
      expect(tunnel.lines.jdbcUrl).toMatch(
        new RegExp(
          `^jdbc:postgresql://127\\.0\\.0\\.1:${tunnel.port}/\\w+\\?user=alice&sslmode=disable$`,
        ),
      );
      const before = (await aliceSessions('orders-db')).length;

      // A connection shows in the panel's list while it is open, with its session id.
      const sleeping = psql(tunnel.lines.conninfo, 'SELECT pg_sleep(2), current_database()');
      const live = await waitFor(async () => {
        const view = await tunnelOf(tunnel.tunnelId);
        return view?.connections.find((c) => c.state === 'live');
      }, 'a live connection in the tunnel list');
      expect(live.sessionId).toMatch(/^ses_/);
      const shown = desktop.events.filter((e) => e.name === 'tunnels.changed');
      expect(
        shown.some((e) =>
          (e.payload as { tunnels: TunnelView[] }).tunnels.some((t) =>
            t.connections.some((c) => c.sessionId === live.sessionId),
          ),
        ),
      ).toBe(true);
      const slept = await sleeping;
      expect(slept.stderr).toBe('');
      expect(slept.code).toBe(0);
      await waitFor(
        async () => (await tunnelOf(tunnel.tunnelId))?.connections.length === 0,
        'the connection to leave the list',
      );

      const script = path.join(work, 'select.sql');
      writeFileSync(script, 'SELECT 1;\n');
      const bench = await runCommand(
        PGBENCH_BIN,
        ['-n', '-c', '2', '-j', '1', '-t', '50', '-f', script, tunnel.lines.conninfo],
        { env: TOOL_ENV },
      );
      expect(bench.code, bench.stderr).toBe(0);
      expect(bench.stdout).toContain('number of transactions actually processed: 100/100');

      // psql's one, then pgbench's own first connection and one per client.
      const sessions = await waitFor(async () => {
        const all = await aliceSessions('orders-db');
        return all.length === before + 4 && all.every((s) => s.state === 'ended') && all;
      }, 'four ended sessions of alice');
      expect(sessions.slice(0, 4).map((s) => s.username)).toEqual(Array(4).fill('alice'));
      expect(sessions.some((s) => s.id === live.sessionId)).toBe(true);
      const recorded = new Set(
        (await admin.listRecordings({ resourceId: resourceIds['orders-db'] })).map(
          (r) => r.sessionId,
        ),
      );
      for (const session of sessions.slice(0, 4)) expect(recorded.has(session.id)).toBe(true);
      expect((await tunnelOf(tunnel.tunnelId))?.sessionsOpened).toBe(4);
      await desktop.call('tunnels.close', { tunnelId: tunnel.tunnelId });
    });

    it('remembers the port per resource; a busy port is a clear error, not a crash', async () => {
      const first = await desktop.call('tunnels.open', {
        resourceId: resourceIds['orders-db'] ?? '',
      });
      await desktop.call('tunnels.close', { tunnelId: first.tunnelId });
      expect(
        (
          await desktop.call('tunnels.rememberedPort', {
            resourceId: resourceIds['orders-db'] ?? '',
          })
        ).port,
      ).toBe(first.port);
      const again = await desktop.call('tunnels.open', {
        resourceId: resourceIds['orders-db'] ?? '',
      });
      expect(again.port).toBe(first.port);
      expect(readFileSync(path.join(desktop.dir, TUNNEL_PORTS_FILE), 'utf8')).toContain(
        String(first.port),
      );
      await desktop.call('tunnels.close', { tunnelId: again.tunnelId });

      // Another program holds the port.
      const squatter: Server = createServer();
      await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
      const busy = (squatter.address() as { port: number }).port;
      try {
        const error = await refusal(
          desktop.call('tunnels.open', { resourceId: resourceIds['orders-db'] ?? '', port: busy }),
        );
        expect(error.code).toBe('conflict');
        expect(error.message).toBe(
          `Port ${busy} on 127.0.0.1 is already in use by another program. Choose another port for orders-db (0 picks a free one).`,
        );
      } finally {
        await new Promise((resolve) => squatter.close(resolve));
      }
      // The desktop carries on: the same resource opens on the port it still remembers.
      const after = await desktop.call('tunnels.open', {
        resourceId: resourceIds['orders-db'] ?? '',
      });
      expect(after.port).toBe(first.port);
      expect((await psql(after.lines.conninfo, 'SELECT 6 * 7')).stdout.trim()).toBe('42');
      await desktop.call('tunnels.close', { tunnelId: after.tunnelId });
    });

    it('ending the grant ends the tunnel, with a message for the panel', async () => {
      const tunnel = await desktop.call('tunnels.open', {
        resourceId: resourceIds['audit-db'] ?? '',
      });
      const long = psql(tunnel.lines.conninfo, 'SELECT pg_sleep(30)');
      await waitFor(
        async () => (await tunnelOf(tunnel.tunnelId))?.connections.some((c) => c.state === 'live'),
        'the pg_sleep connection to be live',
      );
      await deleteGrantOf('audit-db');
      const ended = await waitFor(async () => {
        const view = await tunnelOf(tunnel.tunnelId);
        return view?.state.kind === 'ended' && view.state;
      }, 'the tunnel to end');
      expect(ended).toEqual({
        kind: 'ended',
        reason: 'grant-ended',
        message: `Your access to audit-db ended (the grant was deleted). The tunnel on 127.0.0.1:${tunnel.port} was closed — request access again, then reopen it.`,
      });
      expect((await long).stderr).toMatch(/grant was deleted|server closed the connection/);
      // Nothing listens there any more.
      const refused = await new Promise<string>((resolve) => {
        const socket = connectTcp(tunnel.port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      expect(refused).toBe('ECONNREFUSED');
      // Dismissing it removes it from the list.
      await desktop.call('tunnels.close', { tunnelId: tunnel.tunnelId });
      expect(await tunnelOf(tunnel.tunnelId)).toBeUndefined();
    });

    it('a certificate from the desktop: key made in main (0600, also DER), psql under verify-full; refused once the grant is revoked', async () => {
      const connection = await desktop.call('dbCertificates.create', {
        resourceId: resourceIds['cert-db'] ?? '',
      });
      expect(connection).toMatchObject({ resourceName: 'cert-db', username: 'alice' });
      const { files } = connection;
      expect(path.dirname(files.key).startsWith(path.join(desktop.dir, 'db'))).toBe(true);
      expect(statSync(files.key).mode & 0o777).toBe(0o600);
      expect(statSync(files.keyDer).mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(files.key)).mode & 0o777).toBe(0o700);
      const cert = new X509Certificate(readFileSync(files.cert));
      expect(cert.checkPrivateKey(createPrivateKey(readFileSync(files.key)))).toBe(true);
      const der = createPrivateKey({
        key: readFileSync(files.keyDer),
        format: 'der',
        type: 'pkcs8',
      });
      expect(cert.checkPrivateKey(der)).toBe(true);
      expect(connection.lines.conninfo).toContain('sslmode=verify-full');
      expect(connection.lines.jdbcUrl).toContain(`sslkey=${encodeURIComponent(files.keyDer)}`);
      // Nothing that crossed to the "renderer" holds the key.
      const pem = readFileSync(files.key, 'utf8');
      const body = pem.split('\n')[1] ?? '';
      expect(JSON.stringify(desktop.events)).not.toContain(body);

      const before = (await aliceSessions('cert-db')).length;
      const run = await psql(connection.lines.conninfo, 'SELECT current_database() IS NOT NULL');
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe('t');
      const sessions = await aliceSessions('cert-db');
      expect(sessions).toHaveLength(before + 1);
      expect(sessions[0]?.username).toBe('alice');

      await deleteGrantOf('cert-db');
      const refused = await psql(connection.lines.conninfo, 'SELECT 1');
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('FATAL:  You have no active grant for cert-db');
      // And the desktop issues no new one, saying why.
      const error = await refusal(
        desktop.call('dbCertificates.create', { resourceId: resourceIds['cert-db'] ?? '' }),
      );
      expect(error.code).toBe('forbidden');
      expect(error.message).toContain('no active grant for cert-db');
    });

    it('quitting the app closes its tunnels', async () => {
      const tunnel = await desktop.call('tunnels.open', {
        resourceId: resourceIds['orders-db'] ?? '',
      });
      expect((await psql(tunnel.lines.conninfo, 'SELECT 1')).stdout.trim()).toBe('1');
      await desktop.app.dispose();
      const refused = await new Promise<string>((resolve) => {
        const socket = connectTcp(tunnel.port, '127.0.0.1');
        socket.once('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      expect(refused).toBe('ECONNREFUSED');
    });
  },
);
