/**
 * The gateway's own login to the target (issue #4 "Upstream"): trust, cleartext password, md5
 * and SCRAM-SHA-256 with the stored credential, and TLS per the resource's tlsMode — disable,
 * prefer, require, verify-full against the resource's CA — against a real PostgreSQL 15
 * cluster of this file's own, with TLS on and a pg_hba.conf that asks each role for a
 * different method. Refusals (bad certificate, no TLS, wrong credential, unreachable target)
 * reach the client as a clear 08001.
 */
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  createCertificateAuthority,
  issueServerCertificate,
} from '../../gateway/config/tlsCertificates.ts';
import { encodeFrontend } from '../../shared/postgres/codec.ts';
import { type PostgresCluster, startPostgresCluster } from '../harness/postgresCluster.ts';
import { describeWithPostgres } from '../harness/postgresForTests.ts';
import {
  type PostgresResourceOptions,
  type PostgresTestBed,
  rawConnect,
  startPostgresTestBed,
} from '../harness/postgresTestBed.ts';

describeWithPostgres('The gateway logs in to the target itself (auth methods, TLS modes)', () => {
  let bed: PostgresTestBed;
  let cluster: PostgresCluster;
  const ca = createCertificateAuthority();
  const otherCa = createCertificateAuthority();
  let superuserPassword: string;

  beforeAll(async () => {
    const server = issueServerCertificate(ca, { hostnames: [], ipAddresses: [] });
    [bed, cluster] = await Promise.all([
      startPostgresTestBed(),
      startPostgresCluster({
        tls: server,
        hbaLines: [
          'host all trust_user 127.0.0.1/32 trust',
          'host all md5_user 127.0.0.1/32 md5',
          'host all cleartext_user 127.0.0.1/32 password',
          'hostssl all tls_only 127.0.0.1/32 scram-sha-256',
          'hostnossl all tls_only 127.0.0.1/32 reject',
        ],
      }),
    ]);
    superuserPassword = decodeURIComponent(new URL(cluster.url).password);
    const admin = new pg.Client({ connectionString: cluster.url });
    await admin.connect();
    await admin.query(`
      CREATE ROLE trust_user LOGIN;
      SET password_encryption = 'md5';
      CREATE ROLE md5_user LOGIN PASSWORD 'md5-secret';
      RESET password_encryption;
      CREATE ROLE cleartext_user LOGIN PASSWORD 'clear-secret';
      CREATE ROLE tls_only LOGIN PASSWORD 'tls-secret';
    `);
    await admin.end();
  });
  afterAll(async () => {
    await bed?.close();
    await cluster?.stop();
  });

  let counter = 0;
  async function through(
    options: PostgresResourceOptions,
  ): Promise<{ user: string; ssl: boolean }> {
    counter += 1;
    const name = `target-${counter}`;
    await bed.addResource(name, {
      host: cluster.host,
      port: cluster.port,
      database: 'postgres',
      ...options,
    });
    const { client } = await bed.openPg(name);
    try {
      const result = await client.query(
        'SELECT current_user AS user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      return result.rows[0];
    } finally {
      await client.end();
    }
  }

  async function refused(options: PostgresResourceOptions): Promise<Error & { code?: string }> {
    counter += 1;
    const name = `target-${counter}`;
    await bed.addResource(name, { database: 'postgres', ...options });
    return bed.openPg(name).then(
      () => {
        throw new Error('the session opened');
      },
      (error: Error & { code?: string }) => error,
    );
  }

  it('trust, without TLS (disable) and without a stored password', async () => {
    expect(await through({ username: 'trust_user', password: null, tlsMode: 'disable' })).toEqual({
      user: 'trust_user',
      ssl: false,
    });
  });

  it('md5, with TLS when the server offers it (prefer)', async () => {
    expect(
      await through({ username: 'md5_user', password: 'md5-secret', tlsMode: 'prefer' }),
    ).toEqual({ user: 'md5_user', ssl: true });
  });

  it('cleartext password over required TLS (require)', async () => {
    expect(
      await through({ username: 'cleartext_user', password: 'clear-secret', tlsMode: 'require' }),
    ).toEqual({ user: 'cleartext_user', ssl: true });
  });

  it('SCRAM-SHA-256 with the certificate verified against the resource CA (verify-full)', async () => {
    expect(
      await through({
        username: 'witness',
        password: superuserPassword,
        tlsMode: 'verify-full',
        caPem: ca.certPem,
      }),
    ).toEqual({ user: 'witness', ssl: true });
    expect(
      await through({
        username: 'tls_only',
        password: 'tls-secret',
        tlsMode: 'verify-full',
        caPem: ca.certPem,
      }),
    ).toEqual({ user: 'tls_only', ssl: true });
  });

  it('cancels over TLS when the resource requires TLS', async () => {
    counter += 1;
    const name = `target-${counter}`;
    await bed.addResource(name, {
      host: cluster.host,
      port: cluster.port,
      database: 'postgres',
      username: 'tls_only',
      password: 'tls-secret',
      tlsMode: 'verify-full',
      caPem: ca.certPem,
    });
    const { client } = await bed.openPg(name);
    const connection = client as unknown as { processID: number; secretKey: number };
    const sleeping = client.query('SELECT pg_sleep(30)');
    await new Promise((resolve) => setTimeout(resolve, 200));
    const secret = Buffer.alloc(4);
    secret.writeInt32BE(connection.secretKey);
    const cancel = await rawConnect(bed.postgres.address);
    cancel.send(
      encodeFrontend({ type: 'CancelRequest', processId: connection.processID, secretKey: secret }),
    );
    await expect(sleeping).rejects.toThrow(/canceling statement due to user request/);
    await client.end();
  });

  it('refuses a target whose certificate another CA signed, one without TLS, a wrong credential, and an unreachable one', async () => {
    const badCertificate = await refused({
      host: cluster.host,
      port: cluster.port,
      username: 'witness',
      password: superuserPassword,
      tlsMode: 'verify-full',
      caPem: otherCa.certPem,
    });
    expect(badCertificate.code).toBe('08001');
    expect(badCertificate.message).toMatch(
      /The TLS connection to target-\d+ \(127\.0\.0\.1:\d+\) failed verification/,
    );

    const mainCluster = new URL(bed.resource.directUrl);
    const noTls = await refused({
      host: mainCluster.hostname,
      port: Number(mainCluster.port),
      tlsMode: 'require',
    });
    expect(noTls.message).toMatch(
      /does not accept TLS, but the resource requires it \(tlsMode require\)/,
    );

    const wrongPassword = await refused({
      host: cluster.host,
      port: cluster.port,
      username: 'md5_user',
      password: 'not-the-password',
      tlsMode: 'disable',
    });
    expect(wrongPassword.code).toBe('08001');
    expect(wrongPassword.message).toMatch(
      /refused the gateway's login: password authentication failed for user "md5_user"; an admin must fix the stored credential/,
    );

    const noPassword = await refused({
      host: cluster.host,
      port: cluster.port,
      username: 'md5_user',
      password: null,
      tlsMode: 'disable',
    });
    expect(noPassword.message).toMatch(/asks for a password, but none is stored for this resource/);

    const closedPort = cluster.port === 1 ? 2 : 1;
    const unreachable = await refused({ host: '127.0.0.1', port: closedPort, tlsMode: 'disable' });
    expect(unreachable.message).toMatch(
      /Could not connect to target-\d+ \(127\.0\.0\.1:\d+\): connection refused/,
    );
  });
});
