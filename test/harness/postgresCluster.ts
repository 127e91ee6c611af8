/**
 * A real, throwaway PostgreSQL 15 cluster for tests: `initdb` into a temp directory, listen on
 * 127.0.0.1 only, on a free port, with the unix socket inside the temp directory so nothing
 * touches the machine's own PostgreSQL. When running as root (CI, containers) the server must
 * not run as root, so initdb and pg_ctl run as the `postgres` user via `runuser`.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync } from 'node:fs';
import { appendFile, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PostgresCluster {
  /** Superuser URL (role `witness`) of the `postgres` maintenance database. */
  url: string;
  port: number;
  host: string;
  /** Stops the server (`pg_ctl stop -m fast`) and deletes its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface PostgresClusterOptions {
  /** Directory holding initdb, pg_ctl and postgres; default `$WITNESS_PG_BIN` or PG 15's. */
  binDir?: string;
  /**
   * pg_hba.conf lines put before initdb's (the first match wins), e.g.
   * `host all +md5_users 127.0.0.1/32 md5` for tests of other authentication methods.
   */
  hbaLines?: string[];
  /** Serve TLS (`ssl = on`) with this certificate and key; plaintext is still accepted. */
  tls?: { certPem: string; keyPem: string };
}

const DEFAULT_BIN_DIR = '/usr/lib/postgresql/15/bin';
const HOST = '127.0.0.1';
const ROLE = 'witness';

export async function startPostgresCluster(
  options: PostgresClusterOptions = {},
): Promise<PostgresCluster> {
  const binDir = options.binDir ?? process.env.WITNESS_PG_BIN ?? DEFAULT_BIN_DIR;
  assertBinaries(binDir);
  const owner = process.getuid?.() === 0 ? await postgresAccount() : undefined;
  const run = (binary: string, args: string[]) =>
    owner === undefined
      ? execFileAsync(join(binDir, binary), args)
      : execFileAsync(owner.runuser, ['-u', 'postgres', '--', join(binDir, binary), ...args]);

  const dir = await mkdtemp(join(tmpdir(), 'witness-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const password = randomBytes(18).toString('base64url');
  const removeDir = () => rm(dir, { recursive: true, force: true });

  try {
    const pwFile = join(dir, 'pwfile');
    await writeFile(pwFile, `${password}\n`, { mode: 0o600 });
    if (owner !== undefined) {
      await chown(dir, owner.uid, owner.gid);
      await chown(pwFile, owner.uid, owner.gid);
    }
    await run('initdb', [
      '-D',
      dataDir,
      '-U',
      ROLE,
      `--pwfile=${pwFile}`,
      '--auth-local=trust',
      '--auth-host=scram-sha-256',
      '--encoding=UTF8',
      '--locale=C',
      '--no-sync',
      '--no-instructions',
    ]);
    await rm(pwFile);
    if (options.hbaLines !== undefined && options.hbaLines.length > 0) {
      const hbaFile = join(dataDir, 'pg_hba.conf');
      const hba = await readFile(hbaFile, 'utf8');
      await writeFile(hbaFile, `${options.hbaLines.join('\n')}\n${hba}`);
    }
    const tlsSettings: string[] = [];
    if (options.tls !== undefined) {
      const certFile = join(dataDir, 'witness-test-server.crt');
      const keyFile = join(dataDir, 'witness-test-server.key');
      await writeFile(certFile, options.tls.certPem);
      await writeFile(keyFile, options.tls.keyPem, { mode: 0o600 });
      if (owner !== undefined) {
        await chown(certFile, owner.uid, owner.gid);
        await chown(keyFile, owner.uid, owner.gid);
      }
      tlsSettings.push('ssl = on', `ssl_cert_file = '${certFile}'`, `ssl_key_file = '${keyFile}'`);
    }

    // The port is found by binding port 0 and releasing it, so another process can take it in
    // between; retry on a fresh port when the server cannot bind.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      await appendFile(
        join(dataDir, 'postgresql.conf'),
        [
          '',
          '# witness test harness (later settings win)',
          `listen_addresses = '${HOST}'`,
          `port = ${port}`,
          `unix_socket_directories = '${dir}'`,
          // Throwaway data: durability only costs time.
          'fsync = off',
          'synchronous_commit = off',
          'full_page_writes = off',
          'max_connections = 200',
          ...tlsSettings,
          '',
        ].join('\n'),
      );
      try {
        await run('pg_ctl', ['-D', dataDir, '-l', logFile, '-w', '-t', '30', 'start']);
      } catch (error) {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        if (attempt < 3 && /could not bind|Address already in use/i.test(log)) continue;
        throw new Error(`PostgreSQL did not start: ${errorText(error)}\n${tail(log)}`, {
          cause: error,
        });
      }

      let stopped = false;
      const stopNow = () => {
        // Synchronous on purpose: also used from process 'exit', where nothing async runs.
        if (stopped) return;
        stopped = true;
        process.removeListener('exit', stopNow);
        try {
          const args = ['-D', dataDir, '-m', 'fast', '-w', 'stop'];
          if (owner === undefined) execFileSync(join(binDir, 'pg_ctl'), args, { stdio: 'ignore' });
          else
            execFileSync(owner.runuser, ['-u', 'postgres', '--', join(binDir, 'pg_ctl'), ...args], {
              stdio: 'ignore',
            });
        } catch {
          // Already stopped; the directory goes either way.
        }
      };
      process.on('exit', stopNow);
      const url = `postgresql://${ROLE}:${encodeURIComponent(password)}@${HOST}:${port}/postgres`;
      return {
        url,
        port,
        host: HOST,
        async stop() {
          if (stopped) return;
          stopNow();
          await removeDir();
        },
      };
    }
  } catch (error) {
    await removeDir();
    throw error;
  }
}

/** Creates database `name` on the cluster at `adminUrl` and returns its URL. */
export async function createDatabase(adminUrl: string, name: string): Promise<string> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) {
    throw new Error(`"${name}" is not a plain lower-case identifier; use [a-z_][a-z0-9_]*`);
  }
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // An identifier cannot be a bind parameter; `name` is validated above.
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function assertBinaries(binDir: string): void {
  const missing = ['initdb', 'pg_ctl', 'postgres'].filter((binary) => {
    try {
      accessSync(join(binDir, binary), constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    throw new Error(
      `PostgreSQL 15 server binaries missing: ${missing.map((b) => join(binDir, b)).join(', ')}. ` +
        'Install them with `apt-get install postgresql-15` (Debian/Ubuntu), or set ' +
        'WITNESS_PG_BIN to a directory that holds initdb, pg_ctl and postgres.',
    );
  }
}

async function postgresAccount(): Promise<{ uid: number; gid: number; runuser: string }> {
  const runuser = ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find(existsSync);
  if (runuser === undefined) {
    throw new Error(
      'Running as root, so PostgreSQL must run as the `postgres` user, but `runuser` was not ' +
        'found. Install util-linux, or run the tests as a non-root user.',
    );
  }
  try {
    const uid = Number((await execFileAsync('id', ['-u', 'postgres'])).trim());
    const gid = Number((await execFileAsync('id', ['-g', 'postgres'])).trim());
    return { uid, gid, runuser };
  } catch (error) {
    throw new Error(
      'Running as root, so PostgreSQL must run as the `postgres` user, which does not exist. ' +
        '`apt-get install postgresql-15` creates it; or run the tests as a non-root user.',
      { cause: error },
    );
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

function execFileAsync(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // pg_ctl -l hands the server's output to the log file, so the pipes close when pg_ctl
    // exits and this does not wait for the server's lifetime.
    execFile(file, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${file} ${args.join(' ')} failed: ${error.message}\n${stderr}`));
      } else {
        resolve(stdout);
      }
    });
  });
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function tail(text: string, lines = 20): string {
  return text.split('\n').slice(-lines).join('\n');
}
