/**
 * `witness tunnel RESOURCE [--port N]`: a local PostgreSQL tunnel (../tunnel/postgresTunnel.ts)
 * for tools that open several connections or cannot be given a ticket — pgbench, GUI clients,
 * ORMs, migration tools. It listens on 127.0.0.1, prints the address and a ready psql command
 * line, logs one line per connection on stderr, and runs until Ctrl+C (or SIGTERM, SIGHUP), then
 * closes every connection it relays and ends their sessions at the gateway. Every connection is
 * its own recorded gateway session.
 */
import { stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import type { Command } from 'commander';
import type { GatewayClient } from '../gatewayClient.ts';
import { startPostgresTunnel } from '../tunnel/postgresTunnel.ts';
import { conninfoValue } from './conninfo.ts';
import { endSessionAtGateway } from './sessionEnd.ts';
import { STOP_SIGNALS } from './stopSignals.ts';

export interface TunnelCommandDeps {
  stdout: Writable;
  stderr: Writable;
  /** Runs `action` with a client signed in to the current gateway (witnessCli's withSignedIn). */
  withSignedIn(
    action: (signedIn: { client: GatewayClient; url: string }) => Promise<void>,
  ): Promise<void>;
  /** The CA certificate (PEM) pinned in the profile for the gateway at `url`. */
  pinnedCaPem(url: string): Promise<string | undefined>;
  /** Resolves when the person asks the tunnel to stop (Ctrl+C), with the signal's name. */
  untilStopped(): Promise<string>;
  /** An error the CLI shows as `witness: <message>` (exit 1). */
  failure(message: string): Error;
  usage(message: string): Error;
}

export function registerTunnelCommand(program: Command, deps: TunnelCommandDeps): void {
  program
    .command('tunnel')
    .description(
      'Open a local PostgreSQL port for a resource: every connection to it gets its own recorded session.',
    )
    .argument('<resource>', 'resource name or id')
    .option('--port <port>', 'local port on 127.0.0.1 (default: a free one)')
    .option(
      '--socket-dir <dir>',
      'listen on a Unix-domain socket DIR/.s.PGSQL.PORT instead (PORT: --port or 5432); only who can enter DIR can connect',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  witness tunnel orders-db --port 15432\n' +
        '  pgbench -h 127.0.0.1 -p 15432 -S -c 8 -T 30 orders\n' +
        '\nThe port has no password of its own: anyone who can connect to it on this machine\n' +
        'uses your access, as with an SSH port forward (--socket-dir limits that to who can\n' +
        'enter DIR). Stop it with Ctrl+C.',
    )
    .action((resource: string, options: { port?: string; socketDir?: string }) =>
      deps.withSignedIn(({ client, url }) =>
        runTunnel(
          client,
          url,
          resource,
          { port: parsePort(options.port, deps), socketDir: options.socketDir },
          deps,
        ),
      ),
    );
}

function parsePort(raw: string | undefined, deps: TunnelCommandDeps): number {
  if (raw === undefined) return 0;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65_535) {
    throw deps.usage(`--port: expected a port number (0-65535), got '${raw}'.`);
  }
  return port;
}

async function runTunnel(
  client: GatewayClient,
  url: string,
  resourceArgument: string,
  listen: { port: number; socketDir: string | undefined },
  deps: TunnelCommandDeps,
): Promise<void> {
  const { port, socketDir } = listen;
  if (socketDir !== undefined) {
    const info = await stat(socketDir).catch(() => undefined);
    if (!info?.isDirectory()) {
      throw deps.usage(`--socket-dir: ${socketDir} is not a directory.`);
    }
    if ((info.mode & 0o077) !== 0) {
      deps.stderr.write(
        `witness: note: ${socketDir} is open to other users (mode ${(info.mode & 0o777).toString(8)}); they can use the tunnel as you. chmod 700 it to keep it yours.\n`,
      );
    }
  }
  const resources = await client.listResources();
  const resource =
    resources.find((r) => r.name === resourceArgument) ??
    resources.find((r) => r.id === resourceArgument);
  if (!resource) {
    throw deps.failure(
      `No resource named '${resourceArgument}'. Run \`witness resources\` to see what you can use.`,
    );
  }
  if (resource.target.kind !== 'postgres') {
    throw deps.failure(
      `${resource.name} is not a PostgreSQL database; tunnels are for PostgreSQL resources (\`witness ssh ${resource.name}\` opens an SSH server).`,
    );
  }
  const caPem = await deps.pinnedCaPem(url);
  if (!caPem) {
    throw deps.failure(
      `No CA is pinned for ${url}, so the tunnel could not check the gateway's certificate; run \`witness login ${url}\` again.`,
    );
  }
  const time = () => new Date().toISOString().slice(11, 19);
  let tunnel: Awaited<ReturnType<typeof startPostgresTunnel>>;
  try {
    tunnel = await startPostgresTunnel({
      resource: { id: resource.id, name: resource.name },
      sessions: client,
      caPem,
      port,
      ...(socketDir !== undefined && { socketDir }),
      log: (line) => deps.stderr.write(`${time()} ${line}\n`),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw deps.failure(
      code === 'EADDRINUSE'
        ? socketDir !== undefined
          ? `${error instanceof Error ? error.message : ''} Pick another --port, or remove a stale socket file.`
          : `Port ${port} on 127.0.0.1 is already in use; pick another with --port, or leave it out for a free one.`
        : `Could not open the tunnel: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const database = resource.target.database;
  const where = tunnel.socketPath ?? `${tunnel.host}:${tunnel.port}`;
  deps.stdout.write(
    `Tunnel to ${resource.name} listening on ${where}` +
      ' (every connection is its own recorded session).\n' +
      `  psql "host=${conninfoValue(tunnel.host)} port=${tunnel.port} dbname=${conninfoValue(database)} sslmode=disable"\n` +
      'Press Ctrl+C to stop.\n',
  );
  const signal = await deps.untilStopped();
  const open = tunnel.connections;
  const sessions = await tunnel.close();
  deps.stderr.write(
    `${time()} tunnel stopped (${signal})${open > 0 ? `; closed ${open} open connection${open === 1 ? '' : 's'}` : ''}\n`,
  );
  // The gateway ends them as it sees their connections close; a session whose setup was cut
  // short may never have connected, so each is ended explicitly (at once: nothing to wait for).
  const problems = await Promise.all(
    sessions.map(async (id) => {
      const problem = await endSessionAtGateway(client, id, { graceMs: 0 });
      return problem ? `${id} (${problem})` : undefined;
    }),
  );
  const unended = problems.filter((p) => p !== undefined);
  if (unended.length > 0) {
    deps.stderr.write(
      `witness: note: could not end ${unended.join(', ')} at the gateway; they end when the gateway sees their connections close.\n`,
    );
  }
}

/**
 * The first SIGINT (Ctrl+C), SIGTERM or SIGHUP (the terminal closed) this process gets; the
 * default `untilStopped`. The handlers stay until the process exits, so a second signal during
 * the shutdown does not cut it short (bin/witness.mjs exits once the command returns).
 */
export function untilProcessSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: NodeJS.Signals) => resolve(signal);
    for (const signal of STOP_SIGNALS) process.on(signal, stop);
  });
}
