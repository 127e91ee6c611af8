/**
 * `witness ssh RESOURCE [-- COMMAND…]`: opens a session through the gateway with the system's
 * OpenSSH client, so people keep their terminal, their muscle memory and `ssh`'s exit codes.
 *
 * The CLI asks the API for a session (single-use ticket + endpoint) and for the gateway's SSH
 * host key, then runs `ssh -p PORT SESSIONID@HOST` with:
 *  - a temporary known_hosts holding only that key and StrictHostKeyChecking=yes, so ssh talks
 *    to the gateway the API vouched for and nothing else;
 *  - the ticket handed over through SSH_ASKPASS (SSH_ASKPASS_REQUIRE=force): a 0700 script
 *    that prints a 0600 file — the ticket never appears on a command line;
 *  - `-F none`: the user's ssh_config (ProxyJump, ControlMaster, IdentityFile…) must not
 *    change how the gateway is reached; what matters is set explicitly.
 * stdio is passed through (the terminal itself when there is one), the exit code is ssh's, and
 * the temporary files are removed afterwards. SIGINT, SIGTERM and SIGHUP are passed on to ssh
 * (stopSignals.ts); whatever ends the command — ssh exiting, an error, a signal — the temporary
 * files are removed and the session is ended at the gateway (sessionEnd.ts) before it exits
 * (128 + the signal's number after SIGTERM or SIGHUP).
 */

import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import type { CreateSessionResponse } from '../../shared/api/apiSchemas.ts';
import type { GatewayClient } from '../gatewayClient.ts';
import { runInteractiveChild } from './interactiveChild.ts';
import { withGatewaySession } from './sessionEnd.ts';
import type { SignalSource, StopSignals } from './stopSignals.ts';

export interface SshCommandIo {
  stdin: Readable;
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
  /** Where stop signals come from (default: this process). */
  signals?: SignalSource;
}

export interface SshCommandDeps {
  io: SshCommandIo;
  /** Runs `action` with a client signed in to the current gateway (witnessCli's withSignedIn). */
  withSignedIn(action: (signedIn: { client: GatewayClient }) => Promise<void>): Promise<void>;
  /** The CLI's exit code: ssh's, once it has run. */
  setExitCode(code: number): void;
}

/** An error shown as `witness: <message>` (exit 1). */
export class SshCommandError extends Error {
  override readonly name = 'SshCommandError';
}

interface SshOptions {
  tty?: boolean;
}

export function registerSshCommand(program: Command, deps: SshCommandDeps): void {
  program
    .command('ssh')
    .description(
      'Open an SSH session to a resource through the gateway, with the system ssh client.',
    )
    .argument('<resource>', 'resource name or id')
    .argument('[command...]', 'command to run instead of a login shell (put it after --)')
    .option('-t, --tty', 'allocate a terminal even when running a command (ssh -t)')
    .addHelpText(
      'after',
      '\nExamples:\n  witness ssh web-1\n  witness ssh web-1 -- uptime\n  witness ssh -t web-1 -- top',
    )
    .action((resource: string, command: string[], options: SshOptions) =>
      deps.withSignedIn(async ({ client }) => {
        const code = await openSsh(client, resource, command, options, deps.io);
        deps.setExitCode(code);
      }),
    );
}

async function openSsh(
  client: GatewayClient,
  resourceArgument: string,
  command: string[],
  options: SshOptions,
  io: SshCommandIo,
): Promise<number> {
  const resources = await client.listResources();
  const resource =
    resources.find((r) => r.name === resourceArgument) ??
    resources.find((r) => r.id === resourceArgument);
  if (!resource) {
    throw new SshCommandError(
      `No resource named '${resourceArgument}'. Run \`witness resources\` to see what you can use.`,
    );
  }
  if (resource.target.kind !== 'ssh') {
    throw new SshCommandError(
      `${resource.name} is a ${resource.target.kind} resource, not an SSH server — \`witness connect ${resource.name}\` shows how to reach it.`,
    );
  }
  // Before creating a session: no point spending a ticket on a gateway without a listener.
  const keys = await client.keys();
  if (!keys.sshHostKey) {
    throw new SshCommandError(
      `The gateway at ${client.baseUrl} has no SSH listener yet, so there is nowhere to connect.`,
    );
  }
  // From here on there is something to undo (a session, then files and a child): a signal must
  // not end the process before that is done.
  const hostKey = keys.sshHostKey;
  return withGatewaySession(client, resource.id, io, (session, stop) => {
    const endpoint = session.endpoint;
    if (endpoint?.protocol !== 'ssh') {
      throw new SshCommandError(
        `The gateway at ${client.baseUrl} gave no SSH endpoint for ${resource.name}, so there is nowhere to connect.`,
      );
    }
    return runSsh(session, { ...endpoint, hostKey }, command, options, io, stop);
  });
}

async function runSsh(
  session: CreateSessionResponse,
  gateway: { host: string; port: number; hostKey: string },
  command: string[],
  options: SshOptions,
  io: SshCommandIo,
  stop: StopSignals,
): Promise<number> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'witness-ssh-'));
  try {
    await chmod(dir, 0o700);
    const knownHosts = path.join(dir, 'known_hosts');
    const ticketFile = path.join(dir, 'ticket');
    const askpass = path.join(dir, 'askpass.sh');
    await writeFile(
      knownHosts,
      `${knownHostsPattern(gateway.host, gateway.port)} ${gateway.hostKey}\n`,
      {
        mode: 0o600,
      },
    );
    await writeFile(ticketFile, `${session.ticket}\n`, { mode: 0o600 });
    await writeFile(askpass, '#!/bin/sh\nexec cat "$WITNESS_SSH_TICKET_FILE"\n', { mode: 0o700 });

    const args = [
      '-F',
      'none',
      '-p',
      String(gateway.port),
      ...sshOptions({
        StrictHostKeyChecking: 'yes',
        UserKnownHostsFile: knownHosts,
        GlobalKnownHostsFile: '/dev/null',
        HashKnownHosts: 'no',
        UpdateHostKeys: 'no',
        CheckHostIP: 'no',
        PreferredAuthentications: 'password,keyboard-interactive',
        PubkeyAuthentication: 'no',
        GSSAPIAuthentication: 'no',
        NumberOfPasswordPrompts: '1',
        ForwardAgent: 'no',
        ForwardX11: 'no',
        ControlMaster: 'no',
        ControlPath: 'none',
        SendEnv: 'LANG LC_* TZ',
      }),
      ...(options.tty ? ['-t'] : []),
      '--',
      `${session.sessionId}@${gateway.host}`,
      ...command,
    ];
    const env = {
      ...io.env,
      SSH_ASKPASS: askpass,
      SSH_ASKPASS_REQUIRE: 'force',
      WITNESS_SSH_TICKET_FILE: ticketFile,
    };
    const program = io.env.WITNESS_SSH_BIN || 'ssh';
    return await runInteractiveChild(
      program,
      args,
      env,
      io,
      () =>
        new SshCommandError(
          `The OpenSSH client (${program}) is not installed; install it (e.g. apt-get install openssh-client) or use the desktop app.`,
        ),
      { stop },
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** `host` for port 22, `[host]:port` otherwise (OpenSSH known_hosts syntax). */
function knownHostsPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

function sshOptions(options: Record<string, string>): string[] {
  return Object.entries(options).flatMap(([name, value]) => ['-o', `${name}=${value}`]);
}
