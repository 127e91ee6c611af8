/**
 * `witness db login` (issue #15) through the real binaries: a gateway process with its
 * PostgreSQL listener in front of the run's PostgreSQL 15, the `witness` CLI signed in as an
 * engineer, and `psql` / `pgbench` connecting straight to the gateway with the certificate the
 * CLI wrote (sslmode=verify-full, no tunnel, no ticket). Every connection is its own session
 * under the engineer's name; an expired certificate, one for another resource, one from
 * another CA, a revoked grant and a disabled user are refused with a sentence psql prints.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  issueClientCertificate,
} from '../../gateway/config/tlsCertificates.ts';
import { certificateUris } from '../../gateway/dbCertificates/certificateIdentity.ts';
import { DB_FILES, dbCertificateDir } from '../../gateway-client/cli/dbLoginCommand.ts';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import {
  createAdmin,
  type GatewayProcess,
  runCommand,
  runNode,
  signedInClient,
  spawnGateway,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import { addPostgresTarget } from '../harness/postgresTarget.ts';
import { PSQL_BIN } from '../harness/postgresTestBed.ts';
import { waitFor } from '../harness/waitFor.ts';

const PGBENCH_BIN = process.env.WITNESS_PGBENCH_BIN ?? '/usr/bin/pgbench';
const TOOL_ENV = {
  PATH: process.env.PATH ?? '/usr/bin:/bin',
  LANG: 'C.UTF-8',
  PGCONNECT_TIMEOUT: '20',
  // No ~/.postgresql defaults: only what the connection string names.
  HOME: os.tmpdir(),
};

describeWithPostgres('witness db login (real gateway, CLI, psql and pgbench)', () => {
  let work: string;
  let dataDir: string;
  let gateway: GatewayProcess;
  let admin: GatewayClient;
  let aliceId: string;
  const resourceIds: Record<string, string> = {};
  const cliEnv = () => ({
    WITNESS_HOME: path.join(work, 'home'),
    WITNESS_CREDENTIAL_STORE: 'file',
  });
  const witness = (args: string[]) => runNode(WITNESS_BIN, args, { env: cliEnv() });
  const psql = (conninfo: string, sql: string) =>
    runCommand(PSQL_BIN, ['-X', '-A', '-t', conninfo, '-c', sql], { env: TOOL_ENV });
  const filesOf = (resource: string) => {
    const dir = dbCertificateDir(cliEnv().WITNESS_HOME, gateway.ready.api, resource);
    return {
      dir,
      key: path.join(dir, DB_FILES.key),
      cert: path.join(dir, DB_FILES.cert),
      ca: path.join(dir, DB_FILES.ca),
    };
  };
  /** `witness db login RESOURCE`, returning the connection string it printed. */
  const dbLogin = async (resource: string, extra: string[] = []) => {
    const run = await witness(['db', 'login', resource, ...extra]);
    expect(run.code, run.stderr).toBe(0);
    const conninfo = /^ {2}(host=.*)$/m.exec(run.stdout)?.[1];
    if (!conninfo) throw new Error(`no connection string in:\n${run.stdout}`);
    return { conninfo, stdout: run.stdout };
  };
  const aliceSessions = async (resource: string) =>
    (await admin.listSessions({ resourceId: resourceIds[resource] ?? '' })).filter(
      (session) => session.userId === aliceId,
    );

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-db-login-'));
    dataDir = path.join(work, 'gw');
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
    const created = await admin.createUser({
      username: 'alice',
      role: 'engineer',
      password: 'alice-password-1',
    });
    aliceId = created.user.id;
    for (const name of ['orders-db', 'audit-db']) {
      resourceIds[name] = (
        await addPostgresTarget(admin, { name, grantTo: { userId: aliceId } })
      ).resourceId;
    }
    resourceIds['nogrant-db'] = (await addPostgresTarget(admin, { name: 'nogrant-db' })).resourceId;
    const login = await runNode(
      WITNESS_BIN,
      [
        'login',
        gateway.ready.api,
        '-u',
        'alice',
        '--password-stdin',
        '--fingerprint',
        gateway.ready.caFingerprint,
      ],
      { env: cliEnv(), stdin: 'alice-password-1\n' },
    );
    expect(login.code, login.stderr).toBe(0);
  });
  afterAll(async () => {
    admin?.close();
    await gateway?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('writes a key only the user can read, a certificate for that key, and the gateway CA', async () => {
    const { conninfo, stdout } = await dbLogin('orders-db');
    const files = filesOf('orders-db');
    expect(statSync(files.key).mode & 0o777).toBe(0o600);
    expect(statSync(files.dir).mode & 0o777).toBe(0o700);
    const cert = new X509Certificate(readFileSync(files.cert));
    // The key never left: the certificate is for the key generated and kept on this side.
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(files.key)))).toBe(true);
    expect(cert.subject).toBe('CN=alice');
    expect(readFileSync(files.ca, 'utf8')).toBe(
      readFileSync(path.join(dataDir, 'tls/ca.crt'), 'utf8'),
    );
    const validFor = Date.parse(cert.validTo) - Date.now();
    expect(validFor).toBeGreaterThan(3500_000);
    expect(validFor).toBeLessThanOrEqual(3600_000);
    expect(conninfo).toBe(
      `host=127.0.0.1 port=${gateway.ready.postgres?.split(':').pop()} dbname=orders-db user=alice sslmode=verify-full sslcert=${files.cert} sslkey=${files.key} sslrootcert=${files.ca}`,
    );
    expect(stdout).toContain(`psql "${conninfo}"`);
  });

  it('psql connects with it under sslmode=verify-full, each connection a session of alice', async () => {
    const { conninfo } = await dbLogin('orders-db');
    const before = (await aliceSessions('orders-db')).length;
    for (const n of [1, 2]) {
      const run = await psql(conninfo, `SELECT 40 + ${n}`);
      expect(run.stderr).toBe('');
      expect(run.stdout.trim()).toBe(String(40 + n));
    }
    const sessions = await aliceSessions('orders-db');
    expect(sessions).toHaveLength(before + 2);
    for (const session of sessions.slice(0, 2)) expect(session.username).toBe('alice');
    const recordings = await admin.listRecordings({ resourceId: resourceIds['orders-db'] });
    expect(recordings.filter((r) => sessions.some((s) => s.id === r.sessionId)).length).toBe(
      before + 2,
    );
  });

  it('pgbench runs through it: one recorded session per connection', async () => {
    const { conninfo } = await dbLogin('orders-db', ['--ttl', '10m']);
    const before = (await aliceSessions('orders-db')).length;
    const script = path.join(work, 'select.sql');
    writeFileSync(script, 'SELECT 1;\n');
    const run = await runCommand(
      PGBENCH_BIN,
      ['-n', '-c', '3', '-j', '1', '-t', '20', '-f', script, conninfo],
      { env: TOOL_ENV },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain('number of transactions actually processed: 60/60');
    // pgbench's own first connection (it reads the server's settings), then one per client.
    const sessions = await aliceSessions('orders-db');
    expect(sessions).toHaveLength(before + 4);
    expect(sessions.slice(0, 4).map((session) => session.username)).toEqual(Array(4).fill('alice'));
  });

  it('refuses a certificate for another resource, or used as another user, naming both', async () => {
    const { conninfo } = await dbLogin('orders-db');
    const run = await psql(conninfo.replace('dbname=orders-db', 'dbname=audit-db'), 'SELECT 1');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      'FATAL:  This certificate is for orders-db, not audit-db — run `witness db login audit-db` for one',
    );
    const asBob = await psql(conninfo.replace('user=alice', 'user=bob'), 'SELECT 1');
    expect(asBob.code).not.toBe(0);
    expect(asBob.stderr).toContain(
      'FATAL:  This certificate is for the Witness user alice; connect with user=alice.',
    );
  });

  it('refuses a certificate from another CA, even one naming alice and the resource', async () => {
    const { conninfo } = await dbLogin('orders-db');
    const files = filesOf('orders-db');
    const foreign = issueClientCertificate(createCertificateAuthority(), {
      publicKeyPem: new X509Certificate(readFileSync(files.cert)).publicKey
        .export({ type: 'spki', format: 'pem' })
        .toString(),
      commonName: 'alice',
      uris: certificateUris({ userId: aliceId, resourceId: resourceIds['orders-db'] ?? '' }),
      notAfter: new Date(Date.now() + 3600_000),
    });
    const forged = path.join(work, 'foreign.crt');
    writeFileSync(forged, foreign.certPem);
    const run = await psql(
      conninfo.replace(`sslcert=${files.cert}`, `sslcert=${forged}`),
      'SELECT 1',
    );
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      'FATAL:  The client certificate was not issued by this Witness gateway',
    );
    expect(run.stderr).toContain('Run `witness db login orders-db`');
  });

  it('refuses an expired certificate of its own CA, saying when it expired', async () => {
    const { conninfo } = await dbLogin('orders-db');
    const files = filesOf('orders-db');
    const expired = issueClientCertificate(
      {
        certPem: readFileSync(path.join(dataDir, 'tls/client-ca.crt'), 'utf8'),
        keyPem: readFileSync(path.join(dataDir, 'tls/client-ca.key'), 'utf8'),
      },
      {
        publicKeyPem: new X509Certificate(readFileSync(files.cert)).publicKey
          .export({ type: 'spki', format: 'pem' })
          .toString(),
        commonName: 'alice',
        uris: certificateUris({ userId: aliceId, resourceId: resourceIds['orders-db'] ?? '' }),
        now: new Date(Date.now() - 2 * 3600_000),
        notAfter: new Date(Date.now() - 3600_000),
      },
    );
    const old = path.join(work, 'expired.crt');
    writeFileSync(old, expired.certPem);
    const run = await psql(conninfo.replace(`sslcert=${files.cert}`, `sslcert=${old}`), 'SELECT 1');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain(
      `FATAL:  Your Witness database certificate expired at ${expired.notAfter.toISOString().slice(0, 19)}`,
    );
  });

  it('issues nothing without a grant for the resource', async () => {
    const run = await witness(['db', 'login', 'nogrant-db']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('You have no active grant for nogrant-db');
    expect(existsSync(filesOf('nogrant-db').dir)).toBe(false);
  });

  it('refuses an unexpired certificate at once when its grant is revoked, and ends its live session', async () => {
    const { conninfo } = await dbLogin('audit-db');
    expect((await psql(conninfo, 'SELECT 7')).stdout.trim()).toBe('7');
    const earlier = new Set((await aliceSessions('audit-db')).map((session) => session.id));
    const long = psql(conninfo, 'SELECT pg_sleep(30)');
    await waitFor(
      async () =>
        (await aliceSessions('audit-db')).some(
          (session) => session.state === 'live' && !earlier.has(session.id),
        ),
      'the pg_sleep session to be live',
    );
    const grant = (await admin.listGrants()).find(
      (g) => g.target.kind === 'resource' && g.target.resourceId === resourceIds['audit-db'],
    );
    if (!grant) throw new Error('no grant for audit-db');
    const revokedAt = Date.now();
    await admin.deleteGrant(grant.id);
    // The connection made before is a session like any other: the access review ends it.
    const ended = await long;
    expect(ended.stderr).toMatch(/FATAL: .*grant was deleted/);
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    const run = await psql(conninfo, 'SELECT 7');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('FATAL:  You have no active grant for audit-db');
  });

  it('refuses a disabled user at once, and db logout removes the files', async () => {
    const { conninfo } = await dbLogin('orders-db');
    await admin.disableUser(aliceId);
    const run = await psql(conninfo, 'SELECT 1');
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain('FATAL:  Connection refused: your Witness account is disabled');
    const logout = await witness(['db', 'logout', 'orders-db']);
    expect(logout.code, logout.stderr).toBe(0);
    expect(existsSync(filesOf('orders-db').dir)).toBe(false);
  });
});
