/**
 * `witness psql RESOURCE [-- PSQL-ARGS…]`: opens a recorded PostgreSQL session through the
 * gateway with the system's `psql`, so people keep their client, their ~/.psqlrc and psql's
 * exit codes.
 *
 * The CLI asks the API for a session (single-use ticket + endpoint), then runs `psql` with the
 * connection given entirely through libpq's environment:
 *  - PGHOST/PGPORT: the gateway's PostgreSQL listener; PGUSER: the session id; PGPASSWORD: the
 *    ticket — in the environment only, never on a command line (where `ps` would show it);
 *  - PGSSLMODE=verify-full with PGSSLROOTCERT = a temporary 0600 copy of the gateway CA pinned
 *    in the profile, so psql talks to the gateway the API vouched for and nothing else (the
 *    gateway's certificate names localhost, 127.0.0.1, ::1 and its configured host names);
 *  - PGDATABASE: the resource's database (the gateway decides the real target anyway), and
 *    PGAPPNAME=witness;
 *  - the person's other libpq variables that could send the connection elsewhere or change its
 *    security (PGSERVICE, PGHOSTADDR, PGSSLCERT, …) are removed; presentation settings
 *    (PGCLIENTENCODING, PGDATESTYLE, PGTZ, PGOPTIONS, …) pass through.
 * Arguments after `--` go to psql as they are. stdio is passed through (the terminal itself when
 * there is one; Ctrl-C belongs to psql, which cancels the running query through the gateway),
 * the exit code is psql's, and the temporary directory is removed afterwards. SIGINT, SIGTERM
 * and SIGHUP are passed on to psql (stopSignals.ts); whatever ends the command — psql exiting,
 * an error, a signal — the temporary directory is removed and the session is ended at the
 * gateway (sessionEnd.ts) before it exits (128 + the signal's number after SIGTERM or SIGHUP).
 */

import { constants } from 'node:fs';
import { access, chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import type { CreateSessionResponse } from '../../shared/api/apiSchemas.ts';
import type { GatewayClient } from '../gatewayClient.ts';
import { runInteractiveChild } from './interactiveChild.ts';
import { withGatewaySession } from './sessionEnd.ts';
import type { SignalSource, StopSignals } from './stopSignals.ts';

export interface PsqlCommandIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
  /** Where stop signals come from (default: this process). */
  signals?: SignalSource;
}

export interface PsqlCommandDeps {
  io: PsqlCommandIo;
  /** Runs `action` with a client signed in to the current gateway (witnessCli's withSignedIn). */
  withSignedIn(
    action: (signedIn: { client: GatewayClient; url: string }) => Promise<void>,
  ): Promise<void>;
  /** The CA certificate (PEM) pinned in the profile for the gateway at `url`. */
  pinnedCaPem(url: string): Promise<string | undefined>;
  /** The CLI's exit code: psql's, once it has run. */
  setExitCode(code: number): void;
}

/** An error shown as `witness: <message>` (exit 1). */
export class PsqlCommandError extends Error {
  override readonly name = 'PsqlCommandError';
}

/** libpq settings that only change presentation or timing, kept from the person's environment. */
const KEPT_LIBPQ_VARIABLES = new Set([
  'PGCLIENTENCODING',
  'PGDATESTYLE',
  'PGTZ',
  'PGGEQO',
  'PGOPTIONS',
  'PGCONNECT_TIMEOUT',
  'PGSYSCONFDIR',
  'PGLOCALEDIR',
]);

export function registerPsqlCommand(program: Command, deps: PsqlCommandDeps): void {
  program
    .command('psql')
    .description(
      'Open a PostgreSQL session to a resource through the gateway, with the system psql.',
    )
    .argument('<resource>', 'resource name or id')
    .argument('[psql-args...]', 'arguments for psql (put them after --)')
    .addHelpText(
      'after',
      '\nExamples:\n  witness psql orders-db\n  witness psql orders-db -- -c "select now()"\n' +
        '  witness psql orders-db -- -f report.sql -v ON_ERROR_STOP=1',
    )
    .action((resource: string, psqlArgs: string[]) =>
      deps.withSignedIn(async ({ client, url }) => {
        const code = await openPsql(client, url, resource, psqlArgs, deps);
        deps.setExitCode(code);
      }),
    );
}

async function openPsql(
  client: GatewayClient,
  url: string,
  resourceArgument: string,
  psqlArgs: string[],
  deps: PsqlCommandDeps,
): Promise<number> {
  const { io } = deps;
  const program = io.env.WITNESS_PSQL_BIN || 'psql';
  // Before creating a session: no point spending a ticket without a client to use it.
  if (!(await findExecutable(program, io.env.PATH))) throw notInstalled(program);

  const resources = await client.listResources();
  const resource =
    resources.find((r) => r.name === resourceArgument) ??
    resources.find((r) => r.id === resourceArgument);
  if (!resource) {
    throw new PsqlCommandError(
      `No resource named '${resourceArgument}'. Run \`witness resources\` to see what you can use.`,
    );
  }
  if (resource.target.kind !== 'postgres') {
    const kind: string = resource.target.kind;
    throw new PsqlCommandError(
      kind === 'ssh'
        ? `${resource.name} is an SSH server, not a PostgreSQL database — \`witness ssh ${resource.name}\` opens it.`
        : `${resource.name} is a ${kind} resource, not a PostgreSQL database — \`witness connect ${resource.name}\` shows how to reach it.`,
    );
  }
  const caPem = await deps.pinnedCaPem(url);
  if (!caPem) {
    throw new PsqlCommandError(
      `No CA is pinned for ${url}, so psql could not check the gateway's certificate; run \`witness login ${url}\` again.`,
    );
  }
  // From here on there is something to undo (a session, then files and a child): a signal must
  // not end the process before that is done.
  const database = resource.target.database;
  return withGatewaySession(client, resource.id, io, (session, stop) =>
    runPsql(program, psqlArgs, session, database, caPem, {
      io,
      url,
      resourceName: resource.name,
      stop,
    }),
  );
}

async function runPsql(
  program: string,
  psqlArgs: string[],
  session: CreateSessionResponse,
  database: string,
  caPem: string,
  context: { io: PsqlCommandIo; url: string; resourceName: string; stop: StopSignals },
): Promise<number> {
  const { io, url, resourceName, stop } = context;
  const endpoint = session.endpoint;
  if (endpoint?.protocol !== 'postgres') {
    throw new PsqlCommandError(
      `This gateway (${url}) has no PostgreSQL listener, so there is nowhere to connect for ${resourceName}; ask your admin to start it with --postgres HOST:PORT.`,
    );
  }

  const dir = await mkdtemp(path.join(os.tmpdir(), 'witness-psql-'));
  try {
    await chmod(dir, 0o700);
    const caFile = path.join(dir, 'gateway-ca.crt');
    await writeFile(caFile, caPem.endsWith('\n') ? caPem : `${caPem}\n`, { mode: 0o600 });
    const env = psqlEnvironment(io.env, {
      PGHOST: endpoint.host,
      PGPORT: String(endpoint.port),
      PGUSER: session.sessionId,
      PGPASSWORD: session.ticket,
      PGDATABASE: database,
      PGSSLMODE: 'verify-full',
      PGSSLROOTCERT: caFile,
      // The gateway refuses GSS encryption; asking first is only a wasted round trip.
      PGGSSENCMODE: 'disable',
      PGAPPNAME: 'witness',
    });
    return await runInteractiveChild(program, psqlArgs, env, io, () => notInstalled(program), {
      stop,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The person's environment without libpq connection settings, plus the session's. */
export function psqlEnvironment(
  base: Record<string, string | undefined>,
  connection: Record<string, string>,
): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(base)) {
    if (name.startsWith('PG') && !KEPT_LIBPQ_VARIABLES.has(name)) continue;
    env[name] = value;
  }
  return { ...env, ...connection };
}

function notInstalled(program: string): PsqlCommandError {
  return new PsqlCommandError(
    `psql (${program}) is not installed; install PostgreSQL's client (e.g. apt-get install postgresql-client) or set WITNESS_PSQL_BIN.`,
  );
}

/** Whether `program` runs: a path that is executable, or a name found on PATH. */
async function findExecutable(program: string, searchPath: string | undefined): Promise<boolean> {
  const candidates = program.includes('/')
    ? [program]
    : (searchPath ?? '')
        .split(path.delimiter)
        .filter(Boolean)
        .map((dir) => path.join(dir, program));
  for (const candidate of candidates) {
    try {
      await access(candidate, constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}
