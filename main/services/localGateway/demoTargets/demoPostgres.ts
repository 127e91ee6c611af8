/**
 * The demo PostgreSQL target: a real PostgreSQL cluster of this machine's server binaries,
 * listening on 127.0.0.1 only, with a small `demo` database (a `customers` table whose
 * `email` column is there to show masking). The cluster persists between starts.
 *
 * As root the server must not run as root: initdb and pg_ctl run as `postgres` via runuser,
 * and the cluster lives in a directory that user can reach (under the temp dir, named after
 * the data dir) — app data under /root is not traversable by it. Compare
 * test/harness/postgresCluster.ts, which main/ may not import.
 *
 * Administration goes over the cluster's unix socket (trust for local connections, inside a
 * 0700 directory); TCP logins need a password (SCRAM), which only the gateway holds.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { chown, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { LOOPBACK } from '../localPorts.ts';
import { findOnPath } from './processFiles.ts';

const SUPERUSER = 'witness';
export const DEMO_DATABASE = 'demo';
export const DEMO_ROLE = 'demo';

export interface DemoPostgresTarget {
  host: string;
  port: number;
  database: string;
  username: string;
  password: string;
  /** Where the cluster lives (shown in the status note). */
  clusterDir: string;
  stop(): Promise<void>;
}

/** A directory holding initdb, pg_ctl and postgres, or undefined. */
export function findPostgresBinDir(): string | undefined {
  const candidates: string[] = [];
  if (process.env.WITNESS_PG_BIN) candidates.push(process.env.WITNESS_PG_BIN);
  try {
    const versions = readdirSync('/usr/lib/postgresql')
      .filter((v) => /^\d+$/.test(v))
      .sort((a, b) => Number(b) - Number(a));
    for (const version of versions) candidates.push(`/usr/lib/postgresql/${version}/bin`);
  } catch {
    // Not Debian's layout.
  }
  const pgCtl = findOnPath('pg_ctl');
  if (pgCtl) candidates.push(path.dirname(pgCtl));
  return candidates.find((dir) =>
    ['initdb', 'pg_ctl', 'postgres'].every((binary) => {
      try {
        accessSync(path.join(dir, binary), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
  );
}

/** Why no demo PostgreSQL can run here (with what to install), or undefined. */
export function postgresUnavailableReason(): string | undefined {
  if (!findPostgresBinDir()) {
    return 'PostgreSQL server binaries were not found; install them (Debian/Ubuntu: apt-get install postgresql, macOS: brew install postgresql) or set WITNESS_PG_BIN to the directory holding initdb, pg_ctl and postgres.';
  }
  if (process.getuid?.() === 0 && !findRunuser()) {
    return 'Running as root, PostgreSQL must run as the postgres user, but runuser was not found (install util-linux).';
  }
  return undefined;
}

export async function startDemoPostgres(
  demoDir: string,
  port: number,
): Promise<DemoPostgresTarget> {
  const binDir = findPostgresBinDir();
  const unavailable = postgresUnavailableReason();
  if (!binDir || unavailable) throw new Error(unavailable ?? 'PostgreSQL binaries not found');
  const owner = process.getuid?.() === 0 ? await postgresAccount() : undefined;
  const run = (binary: string, args: string[]) =>
    owner === undefined
      ? execFileText(path.join(binDir, binary), args)
      : execFileText(owner.runuser, ['-u', 'postgres', '--', path.join(binDir, binary), ...args]);

  mkdirSync(demoDir, { recursive: true, mode: 0o700 });
  const clusterDir = demoPostgresClusterDir(demoDir, owner !== undefined);
  const dataDir = path.join(clusterDir, 'data');
  const logFile = path.join(clusterDir, 'postgres.log');

  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    await rm(clusterDir, { recursive: true, force: true });
    mkdirSync(clusterDir, { recursive: true, mode: 0o700 });
    const pwFile = path.join(clusterDir, 'pwfile');
    // initdb needs a superuser password when host logins use SCRAM; nobody uses it (local
    // administration is over the socket), so it is thrown away.
    await writeFile(pwFile, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
    if (owner !== undefined) {
      await chown(clusterDir, owner.uid, owner.gid);
      await chown(pwFile, owner.uid, owner.gid);
    }
    try {
      await run('initdb', [
        '-D',
        dataDir,
        '-U',
        SUPERUSER,
        `--pwfile=${pwFile}`,
        '--auth-local=trust',
        '--auth-host=scram-sha-256',
        '--encoding=UTF8',
        '--locale=C',
        '--no-instructions',
      ]);
    } finally {
      await rm(pwFile, { force: true });
    }
  }

  // A server left running by a desktop that died: stop it, then start on today's port.
  if (existsSync(path.join(dataDir, 'postmaster.pid'))) {
    await run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']).catch(() => {});
  }
  // pg_ctl runs the server through a shell, so the -o value is quoted for one.
  const serverOptions = `-p ${port} -h ${LOOPBACK} -k ${shellQuote(clusterDir)}`;
  try {
    await run('pg_ctl', [
      '-D',
      dataDir,
      '-l',
      logFile,
      '-o',
      serverOptions,
      '-w',
      '-t',
      '30',
      'start',
    ]);
  } catch (error) {
    const log = (() => {
      try {
        return readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
      } catch {
        return '';
      }
    })();
    throw new Error(`the demo PostgreSQL did not start: ${(error as Error).message}\n${log}`);
  }

  const stop = async () => {
    await run('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', 'stop']).catch(() => {});
  };
  try {
    const password = demoPassword(demoDir);
    await seedDemoDatabase({ socketDir: clusterDir, port, password });
    return {
      host: LOOPBACK,
      port,
      database: DEMO_DATABASE,
      username: DEMO_ROLE,
      password,
      clusterDir,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Where the demo cluster of `demoDir` lives (see the module comment for the root case). */
export function demoPostgresClusterDir(
  demoDir: string,
  asRoot: boolean = process.getuid?.() === 0,
): string {
  if (!asRoot) return path.join(demoDir, 'postgres');
  const tag = createHash('sha256').update(path.resolve(demoDir)).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `witness-demo-postgres-${tag}`);
}

/** The demo role's password, generated once and kept 0600 in the demo dir. */
function demoPassword(demoDir: string): string {
  const file = path.join(demoDir, 'postgres-demo-password');
  try {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length >= 16) return stored;
  } catch {
    // First start.
  }
  const password = randomBytes(24).toString('base64url');
  writeFileSyncPrivate(file, `${password}\n`);
  return password;
}

async function seedDemoDatabase(options: {
  socketDir: string;
  port: number;
  password: string;
}): Promise<void> {
  const connect = async (database: string) => {
    const client = new pg.Client({
      host: options.socketDir,
      port: options.port,
      user: SUPERUSER,
      database,
    });
    await client.connect();
    return client;
  };
  const admin = await connect('postgres');
  try {
    const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [DEMO_ROLE]);
    // Identifiers cannot be bind parameters; DEMO_ROLE and DEMO_DATABASE are constants.
    if (role.rowCount === 0) await admin.query(`CREATE ROLE ${DEMO_ROLE} LOGIN`);
    // Set on every start, so the stored password and the role never drift apart.
    await admin.query(`ALTER ROLE ${DEMO_ROLE} PASSWORD ${quoteLiteral(options.password)}`);
    const db = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DEMO_DATABASE]);
    if (db.rowCount === 0) {
      await admin.query(`CREATE DATABASE ${DEMO_DATABASE} OWNER ${DEMO_ROLE}`);
    }
  } finally {
    await admin.end();
  }
  const demo = await connect(DEMO_DATABASE);
  try {
    await demo.query(`SET ROLE ${DEMO_ROLE}`);
    await demo.query(`
      CREATE TABLE IF NOT EXISTS customers (
        id serial PRIMARY KEY,
        name text NOT NULL,
        email text NOT NULL,
        plan text NOT NULL,
        signed_up date NOT NULL
      )`);
    const count = await demo.query<{ n: string }>('SELECT count(*) AS n FROM customers');
    if (Number(count.rows[0]?.n ?? 0) === 0) {
      await demo.query(`
        INSERT INTO customers (name, email, plan, signed_up) VALUES
          ('Ada Lovelace', 'ada@example.com', 'enterprise', '2024-01-15'),
          ('Grace Hopper', 'grace.hopper@example.org', 'team', '2024-03-02'),
          ('Alan Turing', 'alan@example.net', 'free', '2024-05-20'),
          ('Katherine Johnson', 'kjohnson@example.com', 'team', '2024-07-11'),
          ('Edsger Dijkstra', 'edsger@example.org', 'free', '2024-09-30')`);
    }
  } finally {
    await demo.end();
  }
}

function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function findRunuser(): string | undefined {
  return ['/usr/sbin/runuser', '/sbin/runuser', '/usr/bin/runuser'].find((p) => existsSync(p));
}

async function postgresAccount(): Promise<{ uid: number; gid: number; runuser: string }> {
  const runuser = findRunuser();
  if (!runuser) throw new Error(postgresUnavailableReason());
  try {
    const uid = Number((await execFileText('id', ['-u', 'postgres'])).trim());
    const gid = Number((await execFileText('id', ['-g', 'postgres'])).trim());
    return { uid, gid, runuser };
  } catch {
    throw new Error(
      'Running as root, the demo PostgreSQL must run as the postgres user, which does not exist (installing the postgresql package creates it).',
    );
  }
}

function execFileText(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    // pg_ctl -l hands the server's output to the log file, so the pipes close when pg_ctl
    // exits and this does not wait for the server's lifetime.
    execFile(file, args, { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error)
        reject(new Error(`${path.basename(file)} failed: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

function writeFileSyncPrivate(file: string, text: string): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, text, { mode: 0o600 });
}
