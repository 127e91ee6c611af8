import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import type { GatewayClient } from '../../gateway-client/gatewayClient.ts';
import {
  GATEWAY_BIN,
  type GatewayProcess,
  runCommand,
  runNode,
  signedInClient,
  spawnGateway,
  WITNESS_BIN,
} from '../harness/gatewayProcess.ts';
import { itNeeding } from '../harness/needs.ts';
import {
  descendantsOf,
  isRunning,
  killAndWaitASecond,
  processesRunning,
} from '../harness/processTree.ts';
import {
  describeWithSshd,
  type RunningSshd,
  sshClientUnavailableReason,
  startSshd,
} from '../harness/sshd.ts';
import { addSshTarget, serveWithSshArgs } from '../harness/sshTarget.ts';
import { waitFor } from '../harness/waitFor.ts';

const clientMissing = sshClientUnavailableReason();

describeWithSshd('SSH through the gateway with OpenSSH and `witness ssh` (real processes)', () => {
  let work: string;
  let sshd: RunningSshd;
  let gateway: GatewayProcess;
  let sshAddress: { host: string; port: number };
  let alice: GatewayClient;
  let aliceHome: string;
  let hostKeyLine: string;
  let resourceId: string;
  const cliTmp = () => path.join(work, 'cli-tmp');
  const witness = (args: string[], stdin?: string) =>
    runNode(WITNESS_BIN, args, {
      env: {
        WITNESS_HOME: aliceHome,
        WITNESS_CREDENTIAL_STORE: 'file',
        // Where `witness ssh` puts its temporary known_hosts / askpass / ticket files.
        TMPDIR: cliTmp(),
      },
      ...(stdin !== undefined && { stdin }),
    });

  /** Writes an askpass that answers with `ticket`, and the options `witness ssh` uses. */
  function openSshArgs(ticket: string, port = sshAddress.port) {
    const dir = mkdtempSync(path.join(work, 'openssh-'));
    const knownHosts = path.join(dir, 'known_hosts');
    writeFileSync(knownHosts, `[${sshAddress.host}]:${sshAddress.port} ${hostKeyLine}\n`);
    const ticketFile = path.join(dir, 'ticket');
    writeFileSync(ticketFile, `${ticket}\n`, { mode: 0o600 });
    const askpass = path.join(dir, 'askpass.sh');
    writeFileSync(askpass, `#!/bin/sh\nexec cat '${ticketFile}'\n`, { mode: 0o700 });
    return {
      env: { SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force' },
      options: [
        '-F',
        'none',
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        `UserKnownHostsFile=${knownHosts}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        '-o',
        'PreferredAuthentications=password,keyboard-interactive',
        '-o',
        'PubkeyAuthentication=no',
        '-o',
        'NumberOfPasswordPrompts=1',
      ],
      port: String(port),
    };
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(os.tmpdir(), 'witness-openssh-'));
    mkdirSync(cliTmp());
    aliceHome = path.join(work, 'alice-home');
    sshd = await startSshd();
    const dataDir = path.join(work, 'gw');
    gateway = await spawnGateway(serveWithSshArgs(dataDir));
    expect(gateway.ready.ssh).toMatch(/^127\.0\.0\.1:\d+$/);
    const [host, port] = (gateway.ready.ssh ?? '').split(':');
    sshAddress = { host: host!, port: Number(port) };

    for (const [username, role, password] of [
      ['root', 'admin', 'root-password-1'],
      ['alice', 'engineer', 'alice-password-1'],
    ] as const) {
      const created = await runNode(
        GATEWAY_BIN,
        [
          'admin',
          'create-user',
          '--username',
          username,
          '--role',
          role,
          '--password-stdin',
          '--data',
          dataDir,
        ],
        { stdin: `${password}\n` },
      );
      expect(created.code, created.stderr).toBe(0);
    }
    const signedIn = (username: string, password: string) =>
      signedInClient(gateway.ready.api, dataDir, { username, password });
    const admin = await signedIn('root', 'root-password-1');
    alice = await signedIn('alice', 'alice-password-1');
    const keys = await admin.keys();
    expect(keys.sshHostKey).toMatch(/^ssh-ed25519 /);
    hostKeyLine = keys.sshHostKey!;
    resourceId = await addSshTarget(admin, sshd, {
      name: 'web-1',
      grantTo: { userId: (await alice.me()).id },
    });
    admin.close();

    const login = await witness(
      [
        'login',
        gateway.ready.api,
        '-u',
        'alice',
        '--password-stdin',
        '--fingerprint',
        gateway.ready.caFingerprint,
      ],
      'alice-password-1\n',
    );
    expect(login.code, login.stderr).toBe(0);
  });

  afterAll(async () => {
    alice?.close();
    await gateway?.stop();
    await sshd?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  itNeeding(clientMissing)(
    'runs a command with OpenSSH ssh and carries its exit code',
    async () => {
      const session = await alice.createSession(resourceId);
      expect(session.endpoint).toEqual({ protocol: 'ssh', ...sshAddress });
      const ssh = openSshArgs(session.ticket);
      const result = await runCommand(
        'ssh',
        [
          ...ssh.options,
          '-p',
          ssh.port,
          `${session.sessionId}@${sshAddress.host}`,
          'echo hello-openssh; echo to-stderr >&2; exit 7',
        ],
        { env: ssh.env },
      );
      expect(result.stdout).toBe('hello-openssh\n');
      expect(result.stderr).toContain('to-stderr');
      expect(result.code).toBe(7);
      // The gateway marks the session ended once ssh has disconnected.
      const deadline = Date.now() + 5_000;
      let state = (await alice.getSession(session.sessionId)).state;
      while (state !== 'ended' && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        state = (await alice.getSession(session.sessionId)).state;
      }
      expect(state).toBe('ended');
    },
  );

  itNeeding(clientMissing)('shows OpenSSH users why a ticket is refused', async () => {
    const session = await alice.createSession(resourceId);
    const wrong = openSshArgs(`wtk_${randomBytes(32).toString('base64url')}`);
    const refused = await runCommand(
      'ssh',
      [...wrong.options, '-p', wrong.port, `${session.sessionId}@${sshAddress.host}`, 'true'],
      { env: wrong.env },
    );
    expect(refused.code).toBe(255);
    expect(refused.stderr).toContain('Access refused: The session ticket is not valid');
    expect(refused.stderr).toContain('Permission denied');

    // The right ticket still works once; a second use is refused with the reason.
    const right = openSshArgs(session.ticket);
    const args = [
      ...right.options,
      '-p',
      right.port,
      `${session.sessionId}@${sshAddress.host}`,
      'true',
    ];
    expect((await runCommand('ssh', args, { env: right.env })).code).toBe(0);
    const replayed = await runCommand('ssh', args, { env: right.env });
    expect(replayed.code).toBe(255);
    expect(replayed.stderr).toContain('already used');
  });

  itNeeding(clientMissing)('uploads and downloads with the OpenSSH sftp client', async () => {
    const session = await alice.createSession(resourceId);
    const sftp = openSshArgs(session.ticket);
    const local = path.join(work, 'upload.bin');
    const back = path.join(work, 'download.bin');
    const remote = `/tmp/witness-openssh-sftp-${randomBytes(4).toString('hex')}.bin`;
    const content = randomBytes(2 * 1024 * 1024 + 5);
    writeFileSync(local, content);
    const result = await runCommand(
      'sftp',
      [...sftp.options, '-P', sftp.port, `${session.sessionId}@${sshAddress.host}`],
      {
        env: sftp.env,
        stdin: `put ${local} ${remote}\nget ${remote} ${back}\nrm ${remote}\nbye\n`,
      },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(readFileSync(back).equals(content)).toBe(true);
  });

  itNeeding(clientMissing)(
    'moves bulk output intact while OpenSSH rekeys every MiB (the packet arena across new ciphers)',
    async () => {
      const session = await alice.createSession(resourceId);
      const ssh = openSshArgs(session.ticket);
      const content = randomBytes(12 * 1024 * 1024 + 7);
      const file = path.join(work, 'bulk.bin');
      writeFileSync(file, content);
      const received = path.join(work, 'bulk-received.bin');
      // RekeyLimit makes the client start a key exchange after each MiB, mid-transfer; the
      // gateway's packets after each one come from the arena under the new cipher.
      const result = await runCommand(
        'sh',
        [
          '-c',
          'exec ssh "$@" > "$WITNESS_RECEIVED"',
          'ssh',
          ...ssh.options,
          '-o',
          'RekeyLimit=1M',
          '-o',
          'LogLevel=DEBUG1',
          '-p',
          ssh.port,
          `${session.sessionId}@${sshAddress.host}`,
          `cat '${file}'`,
        ],
        { env: { ...ssh.env, WITNESS_RECEIVED: received } },
      );
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr.match(/SSH2_MSG_NEWKEYS received/g)?.length).toBeGreaterThanOrEqual(5);
      expect(readFileSync(received).equals(content)).toBe(true);
    },
  );

  itNeeding(clientMissing)(
    '`witness ssh` runs a command through the gateway, passes stdio and the exit code, and cleans up',
    async () => {
      const ran = await witness(['ssh', 'web-1', '--', 'echo from-witness-ssh; exit 5']);
      expect(ran.stdout).toBe('from-witness-ssh\n');
      expect(ran.code, ran.stderr).toBe(5);

      const piped = await witness(['ssh', 'web-1', '--', 'tr a-z A-Z'], 'piped through stdin\n');
      expect(piped.code, piped.stderr).toBe(0);
      expect(piped.stdout).toBe('PIPED THROUGH STDIN\n');

      // No known_hosts, askpass or ticket left behind.
      expect(readdirSync(cliTmp()).filter((name) => name.startsWith('witness-ssh-'))).toEqual([]);

      const missing = await witness(['ssh', 'web-9', '--', 'true']);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toContain("No resource named 'web-9'");

      // Both `witness ssh` sessions ran and ended.
      const ended = await alice.listSessions({ state: 'ended' });
      expect(ended.length).toBeGreaterThanOrEqual(2);
    },
  );

  itNeeding(clientMissing)(
    'exports a `witness ssh` session as an output-only .cast that asciinema plays; --include-input adds what was typed',
    async () => {
      const before = new Set((await alice.listSessions()).map((session) => session.id));
      // No pty: what is typed is never echoed, as with a password at a prompt.
      const ran = await witness(
        ['ssh', 'web-1', '--', 'read secret; echo "got $(printf %s "$secret" | wc -c) characters"'],
        'hunter2-typed-secret\n',
      );
      expect(ran.code, ran.stderr).toBe(0);
      expect(ran.stdout).toBe('got 20 characters\n');
      const [session] = (await alice.listSessions()).filter((s) => !before.has(s.id));
      await waitFor(
        async () => (await alice.getRecording(session!.id)).status === 'complete',
        'the recording to be complete',
      );
      const file = path.join(work, 'typed.cast');
      const exported = await witness([
        'recordings',
        'export',
        session!.id,
        '--format',
        'cast',
        '-o',
        file,
      ]);
      expect(exported.code, exported.stderr).toBe(0);
      expect(exported.stderr).toBe('');
      const cast = readFileSync(file, 'utf8');
      expect(cast).toContain('got 20 characters');
      expect(cast).not.toContain('hunter2');
      expect(cast).not.toMatch(/,\s*"i",/);
      // asciinema opens /dev/tty, so it runs under `script`, which gives it a pseudo-terminal.
      const played = await runCommand('script', ['-qec', `asciinema cat '${file}'`, '/dev/null'], {
        env: { TERM: 'xterm' },
      });
      expect(played.code, played.stderr).toBe(0);
      expect(played.stdout).toContain('got 20 characters');

      const withInput = await witness([
        'recordings',
        'export',
        session!.id,
        '--format',
        'cast',
        '--include-input',
        '-o',
        `${file}.input`,
      ]);
      expect(withInput.code, withInput.stderr).toBe(0);
      expect(withInput.stderr).toMatch(/warning: .*typed input.*may contain secrets/);
      const typed = readFileSync(`${file}.input`, 'utf8');
      expect(typed, typed).toMatch(/,"i","hunter2-typed-secret\\n"\]/);
      const toStdout = await witness([
        'recordings',
        'export',
        session!.id,
        '--format',
        'cast',
        '-o',
        '-',
      ]);
      expect(toStdout.stdout).toBe(cast);
    },
  );

  // `kill` of `witness ssh` running a long remote command: ssh gets the signal too, the
  // temporary known_hosts/askpass/ticket files go, and the session is ended at the gateway —
  // all within a second.
  for (const [signal, exitCode] of [
    ['SIGTERM', 143],
    ['SIGHUP', 129],
    ['SIGINT', null],
  ] as const) {
    itNeeding(clientMissing)(
      `kill -${signal.slice(3)} of \`witness ssh\` leaves no ssh process, no temporary file and no live session`,
      async () => {
        const tmp = mkdtempSync(path.join(work, `signal-${signal}-`));
        // A unique duration, so the remote `sleep` is found (and cleaned up) by its arguments.
        const duration = `30.${randomInt(100_000, 999_999)}`;
        const before = new Set((await alice.listSessions()).map((session) => session.id));
        const child = spawn(
          process.execPath,
          [WITNESS_BIN, 'ssh', 'web-1', '--', `echo started; exec sleep ${duration}`],
          {
            env: {
              ...process.env,
              WITNESS_HOME: aliceHome,
              WITNESS_CREDENTIAL_STORE: 'file',
              TMPDIR: tmp,
            },
            stdio: ['pipe', 'pipe', 'pipe'],
          },
        );
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
          stdout += chunk;
        });
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
          stderr += chunk;
        });
        const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
        try {
          await waitFor(() => stdout.includes('started'), `the remote command (${stderr})`);
          const clients = descendantsOf(child.pid!);
          expect(clients.length).toBeGreaterThan(0);
          expect(readdirSync(tmp).filter((name) => name.startsWith('witness-ssh-'))).toHaveLength(
            1,
          );
          const mine = (await alice.listSessions()).filter((s) => !before.has(s.id));
          expect(mine.map((s) => s.state)).toEqual(['live']);

          const code = await killAndWaitASecond(child, signal, exited);
          expect(clients.filter(isRunning)).toEqual([]);
          // (tsx, which runs the CLI, keeps its compile cache in TMPDIR too: `tsx-0`.)
          expect(readdirSync(tmp).filter((name) => name.startsWith('witness-'))).toEqual([]);
          expect((await alice.getSession(mine[0]!.id)).state).toBe('ended');
          if (exitCode !== null) expect(code).toBe(exitCode);
          // Not asserted: without a pty, sshd leaves an exec'd command running when its
          // connection closes (measured: the remote `sleep` outlives every signal here); only
          // the gateway could stop it, by sending the channel a signal before closing it.
        } finally {
          if (child.exitCode === null) child.kill('SIGKILL');
          for (const pid of processesRunning(['sleep', duration])) process.kill(pid, 'SIGTERM');
        }
      },
    );
  }
});
