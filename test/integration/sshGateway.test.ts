/**
 * SSH through the gateway with the ssh2 client, against a real OpenSSH sshd (issue #3): an
 * interactive pty session with a full-screen program and resizes, 100 MB of exec output
 * received and recorded byte-exact (and the recording verified), exit codes and signals,
 * sftp both ways, refused tickets and host keys, the end of a session at expiresAt and on
 * terminate, and fail-closed recording. The gateway runs in this process (startSshTestBed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { type AddressInfo, connect as connectTcp, createServer, type Server } from 'node:net';
import ssh2, { type Client, type ClientChannel, type ExecOptions, type SFTPWrapper } from 'ssh2';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { scanHostKey } from '../../gateway/proxy/ssh/index.ts';
import { eventKinds, type RecordingEvent } from '../../shared/recording/recordingFormat.ts';
import { verifyRecording } from '../../shared/recording/verifyRecording.ts';
import { describeWithSshd, type SshTestBed, startSshTestBed } from '../harness/sshd.ts';
import { waitFor } from '../harness/waitFor.ts';

interface ExecResult {
  stdout: Buffer;
  stderr: string;
  code: number | null | undefined;
  signal: string | undefined;
}

function exec(
  client: Client,
  command: string,
  options: { stdin?: Buffer | string; onChannel?: (channel: ClientChannel) => void } = {},
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      const stdout: Buffer[] = [];
      let stderr = '';
      let code: number | null | undefined;
      let signal: string | undefined;
      channel.on('data', (chunk: Buffer) => stdout.push(chunk));
      channel.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      channel.on('exit', (exitCode: number | null, exitSignal?: string) => {
        code = exitCode;
        signal = exitSignal;
      });
      channel.on('close', () => resolve({ stdout: Buffer.concat(stdout), stderr, code, signal }));
      options.onChannel?.(channel);
      if (options.stdin !== undefined) channel.end(options.stdin);
    });
  });
}

describeWithSshd('SSH through the gateway (ssh2 client, real sshd)', () => {
  let bed: SshTestBed;

  beforeAll(async () => {
    bed = await startSshTestBed();
  });
  afterAll(async () => {
    await bed?.close();
  });

  /** Waits until the recording is closed, verifies it, and returns its events. */
  async function verifiedRecording(sessionId: string): Promise<RecordingEvent[]> {
    const services = bed.gw.gateway.services;
    const meta = await waitFor(async () => {
      const row = await services.store.getRecording(sessionId);
      return row && row.status !== 'recording' ? row : undefined;
    }, `the recording of ${sessionId} to close`);
    expect(meta.status).toBe('complete');
    const events: RecordingEvent[] = [];
    const report = await verifyRecording(services.recordings.open(meta), {
      publicKeyPem: services.keys.recordingKey.publicKeyPem,
      expectedSessionId: sessionId,
      onEvent: (event) => events.push({ ...event, data: Buffer.from(event.data) }),
    });
    expect(report.status, report.message).toBe('verified');
    expect(report.final).toBe(true);
    return events;
  }

  const text = (events: RecordingEvent[], kind: string) =>
    Buffer.concat(events.filter((e) => e.kind === kind).map((e) => e.data)).toString('utf8');
  const json = (events: RecordingEvent[], kind: string) =>
    events
      .filter((e) => e.kind === kind)
      .map((e) => JSON.parse(Buffer.from(e.data).toString('utf8')) as Record<string, unknown>);

  it('serves an interactive pty shell: a full-screen editor, resizes, env allowlist', async () => {
    const { sessionId, ticket } = await bed.newSession();
    const client = await bed.connect(sessionId, ticket);
    const file = `/tmp/witness-vi-${randomBytes(4).toString('hex')}.txt`;
    const shell = await new Promise<ClientChannel>((resolve, reject) =>
      client.shell(
        { term: 'xterm-256color', cols: 80, rows: 24 },
        { env: { LANG: 'C.UTF-8', WITNESS_TEST_SECRET: 'must-not-pass' } },
        (error, channel) => (error ? reject(error) : resolve(channel)),
      ),
    );
    let screen = '';
    shell.on('data', (chunk: Buffer) => {
      screen += chunk.toString('utf8');
    });
    shell.stderr.on('data', () => {});
    const closed = new Promise<number | undefined>((resolve) => {
      let code: number | undefined;
      shell.on('exit', (c: number) => {
        code = c;
      });
      shell.on('close', () => resolve(code));
    });
    // `$((n+1))done` appears in the output only when the shell ran the line (the echo of the
    // typed line shows the unexpanded text).
    let step = 0;
    const run = async (line: string) => {
      step += 1;
      const marker = `${step + 1000}done`;
      const from = screen.length;
      shell.write(`${line}; echo $((${step}+1000))done\r`);
      await waitFor(() => screen.slice(from).includes(marker), `"${line}" to finish`);
      return screen.slice(from, screen.indexOf(marker, from));
    };

    expect(await run('stty size')).toMatch(/24 80/);
    shell.setWindow(40, 120, 0, 0);
    expect(await run('stty size')).toMatch(/40 120/);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
    expect(await run('echo "L=$LANG S=${WITNESS_TEST_SECRET:-unset} T=$TERM"')).toMatch(
      /L=C\.UTF-8 S=unset T=xterm-256color/,
    );

    // vi takes over the screen (alternate screen buffer), edits, writes, quits.
    const before = screen.length;
    shell.write(`vi ${file}\r`);
    await waitFor(
      () => screen.slice(before).includes('\x1b[?1049h') && screen.slice(before).includes('[New'),
      'vi to switch to the alternate screen and show the new file',
    );
    shell.write('ihello from vi\x1b');
    await new Promise((resolve) => setTimeout(resolve, 200));
    shell.write(':wq\r');
    // vim flushes typeahead when it restores the terminal: wait for the shell prompt.
    await waitFor(() => {
      const after = screen.slice(screen.indexOf('\x1b[?1049l', before) + 1);
      return screen.includes('\x1b[?1049l', before) && /[#$] $/.test(after);
    }, 'vi to exit and the prompt to return');
    expect(await run(`cat ${file} && rm -f ${file}`)).toContain('hello from vi');

    shell.write('exit 0\r');
    expect(await closed).toBe(0);
    client.end();

    const events = await verifiedRecording(sessionId);
    const meta = json(events, eventKinds.meta);
    expect(meta).toContainEqual(
      expect.objectContaining({ type: 'pty-req', term: 'xterm-256color', cols: 80, rows: 24 }),
    );
    expect(meta).toContainEqual({ type: 'env', name: 'LANG', value: 'C.UTF-8' });
    expect(meta).toContainEqual({ type: 'refused', request: 'env', name: 'WITNESS_TEST_SECRET' });
    expect(meta).toContainEqual({ type: 'shell' });
    expect(JSON.stringify(meta)).not.toContain('must-not-pass');
    expect(json(events, eventKinds.resize)).toContainEqual(
      expect.objectContaining({ cols: 120, rows: 40 }),
    );
    expect(json(events, eventKinds.exit)).toEqual([{ code: 0 }]);
    const input = text(events, eventKinds.input);
    expect(input).toContain('stty size');
    expect(input).toContain('ihello from vi\x1b:wq\r');
    // Everything the client saw is in the recording, in order.
    expect(text(events, eventKinds.output)).toBe(screen);
    const row = await bed.gw.gateway.services.store.getSession(sessionId);
    expect(row?.state).toBe('ended');
  });

  it('carries 100 MB of exec output byte-exact, and records it byte-exact', async () => {
    const { sessionId, ticket } = await bed.newSession();
    const client = await bed.connect(sessionId, ticket);
    const size = 100_000_000;
    const received = createHash('sha256');
    let receivedBytes = 0;
    const started = process.hrtime.bigint();
    let peakRss = 0;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 50);
    const result = await new Promise<ExecResult>((resolve, reject) => {
      client.exec(
        `bash -c 'head -c ${size} /dev/urandom | tee >(sha256sum >&2)'`,
        (error, channel) => {
          if (error) return reject(error);
          let stderr = '';
          let code: number | null | undefined;
          channel.on('data', (chunk: Buffer) => {
            received.update(chunk);
            receivedBytes += chunk.length;
          });
          channel.stderr.on('data', (chunk: Buffer) => {
            stderr += chunk.toString();
          });
          channel.on('exit', (c: number) => {
            code = c;
          });
          channel.on('close', () =>
            resolve({ stdout: Buffer.alloc(0), stderr, code, signal: undefined }),
          );
        },
      );
    });
    clearInterval(sampler);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(
      `[ssh 100 MB exec] ${(size / 1e6 / seconds).toFixed(1)} MB/s through the gateway with ` +
        `recording (ssh2 client, gateway and recorder in one process), peak RSS ${(peakRss / 1e6).toFixed(0)} MB`,
    );
    client.end();

    const sentHash = /^([0-9a-f]{64})/.exec(result.stderr)?.[1];
    const receivedHash = received.digest('hex');
    expect(result.code).toBe(0);
    expect(receivedBytes).toBe(size);
    expect(receivedHash).toBe(sentHash);

    const services = bed.gw.gateway.services;
    const meta = await waitFor(async () => {
      const row = await services.store.getRecording(sessionId);
      return row && row.status !== 'recording' ? row : undefined;
    }, 'the recording to close');
    const recorded = createHash('sha256');
    let recordedBytes = 0;
    const report = await verifyRecording(services.recordings.open(meta), {
      publicKeyPem: services.keys.recordingKey.publicKeyPem,
      expectedSessionId: sessionId,
      onEvent: (event) => {
        if (event.kind === eventKinds.output) {
          recorded.update(event.data);
          recordedBytes += event.data.length;
        }
      },
    });
    expect(report.status, report.message).toBe('verified');
    expect(recordedBytes).toBe(size);
    expect(recorded.digest('hex')).toBe(sentHash);
    // Bounded memory: the transfer is streamed, never held.
    expect(peakRss).toBeLessThan(600 * 1024 * 1024);
  }, 60_000);

  it('delivers and records every byte of 20 concurrent sessions before their exit status', async () => {
    // Sessions under load must not end with the end of their output missing: each one's last
    // stdout bytes and its last stderr line reach the client before exit-status and close, and
    // the recording holds exactly what the client got. Each client stops reading for a while
    // and the output is larger than its SSH window, so when the target exits the gateway still
    // has output waiting for window.
    const sessions = 20;
    const size = 4_000_000;
    const command = `bash -c 'seq 1 1000000 | head -c ${size}; printf last-line >&2'`;
    const one = async () => {
      const { sessionId, ticket } = await bed.newSession();
      const client = await bed.connect(sessionId, ticket);
      let stdoutBytes = 0;
      let stderr = '';
      const ended = await new Promise<{ code: number | undefined; stdoutAtExit: number }>(
        (resolve, reject) => {
          client.exec(command, (error, channel) => {
            if (error) return reject(error);
            let code: number | undefined;
            let stdoutAtExit = -1;
            channel.on('data', (chunk: Buffer) => {
              stdoutBytes += chunk.length;
            });
            channel.stderr.on('data', (chunk: Buffer) => {
              stderr += chunk.toString();
            });
            channel.on('exit', (c: number) => {
              code = c;
              stdoutAtExit = stdoutBytes;
            });
            channel.on('close', () => resolve({ code, stdoutAtExit }));
            channel.pause();
            setTimeout(() => channel.resume(), 1_000);
          });
        },
      );
      client.end();
      return { sessionId, stdoutBytes, stderr, ...ended };
    };
    const results = await Promise.all(Array.from({ length: sessions }, one));
    for (const result of results) {
      expect(result.code).toBe(0);
      expect(result.stdoutBytes).toBe(size);
      // exit-status came after the last output byte, not before it.
      expect(result.stdoutAtExit).toBe(size);
      // (The target's shell startup may print warnings of its own before it.)
      expect(result.stderr.endsWith('last-line')).toBe(true);
    }
    for (const result of results) {
      const events = await verifiedRecording(result.sessionId);
      const output = events.filter((e) => e.kind === eventKinds.output);
      expect(output.reduce((sum, e) => sum + e.data.length, 0)).toBe(size);
      expect(text(events, eventKinds.stderr)).toBe(result.stderr);
    }
  }, 120_000);

  it('carries exit codes and signals, and input recorded before it reaches the target', async () => {
    const { sessionId, ticket } = await bed.newSession();
    const client = await bed.connect(sessionId, ticket);
    const three = await exec(client, 'echo out; echo err >&2; exit 3');
    expect(three).toMatchObject({ code: 3, stderr: 'err\n' });
    expect(three.stdout.toString()).toBe('out\n');
    const killed = await exec(client, 'kill -TERM $$; sleep 5');
    expect(killed.code).toBeNull();
    expect(killed.signal).toBe('SIGTERM');
    const echoed = await exec(client, 'cat', { stdin: 'typed into stdin\n' });
    expect(echoed.stdout.toString()).toBe('typed into stdin\n');
    // Signals from the client reach the target.
    const interrupted = await exec(client, 'trap "echo got-int; exit 9" INT; sleep 2 & wait', {
      onChannel: (channel) => setTimeout(() => channel.signal('INT'), 300),
    });
    if (bed.sshd.user === 'root') {
      // OpenSSH does not deliver signals to root sessions ("session signalling requires
      // privilege separation"), but its log shows the request arrived through the gateway.
      expect(bed.sshd.log()).toContain('session_signal_req');
      expect(interrupted.code).toBe(0);
    } else {
      expect(interrupted.stdout.toString()).toBe('got-int\n');
      expect(interrupted.code).toBe(9);
    }
    client.end();

    const events = await verifiedRecording(sessionId);
    expect(json(events, eventKinds.exit)).toEqual([
      { code: 3 },
      { signal: 'TERM', coreDumped: false },
      { code: 0 },
      { code: interrupted.code },
    ]);
    const meta = json(events, eventKinds.meta);
    expect(meta).toContainEqual({ type: 'exec', command: 'echo out; echo err >&2; exit 3' });
    expect(meta).toContainEqual({ type: 'signal', name: 'INT' });
    expect(text(events, eventKinds.stderr)).toBe('err\n');
    expect(text(events, eventKinds.input)).toBe('typed into stdin\n');
    // Every SSH channel has its own recording channel.
    const channels = new Set(
      events.filter((e) => e.kind === eventKinds.exit).map((e) => e.channel),
    );
    expect(channels.size).toBe(4);
  });

  it('bridges sftp: upload and download through the gateway, recorded', async () => {
    const { sessionId, ticket } = await bed.newSession();
    const client = await bed.connect(sessionId, ticket);
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) =>
      client.sftp((error, session) => (error ? reject(error) : resolve(session))),
    );
    const content = randomBytes(3 * 1024 * 1024 + 17);
    const remote = `/tmp/witness-sftp-${randomBytes(4).toString('hex')}.bin`;
    await new Promise<void>((resolve, reject) =>
      sftp.writeFile(remote, content, (error) => (error ? reject(error) : resolve())),
    );
    const back = await new Promise<Buffer>((resolve, reject) =>
      sftp.readFile(remote, (error, data) => (error ? reject(error) : resolve(data))),
    );
    expect(back.equals(content)).toBe(true);
    const listing = await new Promise<string[]>((resolve, reject) =>
      sftp.readdir('/tmp', (error, list) =>
        error ? reject(error) : resolve(list.map((e) => e.filename)),
      ),
    );
    expect(listing).toContain(remote.slice('/tmp/'.length));
    await new Promise<void>((resolve, reject) =>
      sftp.unlink(remote, (error) => (error ? reject(error) : resolve())),
    );
    sftp.end();
    client.end();

    const events = await verifiedRecording(sessionId);
    expect(json(events, eventKinds.meta)).toContainEqual({ type: 'subsystem', name: 'sftp' });
    const input = Buffer.concat(events.filter((e) => e.kind === 'i').map((e) => e.data));
    const output = Buffer.concat(events.filter((e) => e.kind === 'o').map((e) => e.data));
    // The raw SFTP packets carry the file both ways.
    expect(input.includes(content.subarray(0, 4096))).toBe(true);
    expect(output.includes(content.subarray(content.length - 4096))).toBe(true);
    expect(input.length).toBeGreaterThan(content.length);
    expect(output.length).toBeGreaterThan(content.length);
  });

  it('refuses wrong, replayed and expired tickets with a reason, and keeps serving others', async () => {
    const live = await bed.newSession();
    const liveClient = await bed.connect(live.sessionId, live.ticket);

    /** Keyboard-interactive login; returns the instructions the gateway sent, or 'ok'. */
    const tryTicket = (username: string, ticket: string) =>
      new Promise<{ ok: boolean; instructions: string[]; error?: string }>((resolve) => {
        const client = new ssh2.Client();
        const instructions: string[] = [];
        client.on('keyboard-interactive', (_name, text, _lang, prompts, finish) => {
          instructions.push(text);
          finish(prompts.map(() => ticket));
        });
        client.on('ready', () => {
          client.end();
          resolve({ ok: true, instructions });
        });
        client.on('error', (error) => resolve({ ok: false, instructions, error: error.message }));
        client.connect({
          host: bed.ssh.address.host,
          port: bed.ssh.address.port,
          username,
          tryKeyboard: true,
          readyTimeout: 10_000,
        });
      });

    const session = await bed.newSession();
    const wrong = await tryTicket(
      session.sessionId,
      `wtk_${randomBytes(32).toString('base64url')}`,
    );
    expect(wrong.ok).toBe(false);
    expect(wrong.instructions.join('\n')).toContain('The session ticket is not valid');
    const notASession = await tryTicket('root', session.ticket);
    expect(notASession.instructions.join('\n')).toContain('session id (ses_…) as the user name');

    // A wrong guess does not burn the ticket; the right one works once.
    expect((await tryTicket(session.sessionId, session.ticket)).ok).toBe(true);
    const replayed = await tryTicket(session.sessionId, session.ticket);
    expect(replayed.ok).toBe(false);
    expect(replayed.instructions.join('\n')).toContain('already used');

    // Password clients get a plain refusal (no channel for a message before login).
    await expect(bed.connect(session.sessionId, session.ticket)).rejects.toThrow(
      /authentication methods failed/,
    );

    const late = await bed.newSession();
    bed.gw.clock.advance(61_000);
    const expired = await tryTicket(late.sessionId, late.ticket);
    expect(expired.ok).toBe(false);
    expect(expired.instructions.join('\n')).toContain('expired');

    // Garbage on the wire: a non-SSH client, and an SSH banner followed by noise.
    for (const payload of ['GET / HTTP/1.1\r\n\r\n', `SSH-2.0-fuzz\r\n${'\xff'.repeat(5000)}`]) {
      await new Promise<void>((resolve) => {
        const socket = connectTcp(bed.ssh.address.port, bed.ssh.address.host, () => {
          socket.end(Buffer.from(payload, 'latin1'));
        });
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.resume();
      });
    }

    // The first session never noticed.
    const still = await exec(liveClient, 'echo still-here');
    expect(still.stdout.toString()).toBe('still-here\n');
    liveClient.end();
  });

  it('refuses a target whose host key differs from the pinned one, or has none', async () => {
    const other = ssh2.utils.generateKeyPairSync('ed25519').public;
    await bed.addResource('web-2', { hostKey: other });
    await bed.addResource('web-3', { hostKey: null });

    const mismatch = await bed.newSession('web-2');
    const client = await bed.connect(mismatch.sessionId, mismatch.ticket);
    const refused = await exec(client, 'echo must-not-run');
    expect(refused.stdout.length).toBe(0);
    expect(refused.stderr).toContain('The host key of web-2 changed');
    expect(refused.stderr).toContain('an admin must verify the new key and re-pin it');
    const row = await waitFor(async () => {
      const s = await bed.gw.gateway.services.store.getSession(mismatch.sessionId);
      return s?.state === 'ended' ? s : undefined;
    }, 'the refused session to end');
    expect(row.endReason).toContain('host key');

    const unpinned = await bed.newSession('web-3');
    const client3 = await bed.connect(unpinned.sessionId, unpinned.ticket);
    const refused3 = await exec(client3, 'echo must-not-run');
    expect(refused3.stdout.length).toBe(0);
    expect(refused3.stderr).toContain('web-3 has no pinned SSH host key');

    // Scan-and-pin: the scan returns exactly what sshd presents.
    const scanned = await scanHostKey(bed.sshd.host, bed.sshd.port);
    expect(scanned.keyLine).toBe(bed.sshd.hostKeyLine);
    expect(scanned.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('ends a live session at expiresAt with a message, within a second', async () => {
    await bed.addResource('web-short', { maxSessionSeconds: 60 });
    const { sessionId, ticket, expiresAt } = await bed.newSession('web-short');
    const client = await bed.connect(sessionId, ticket);
    let advancedAt = 0;
    const result = exec(client, 'echo started; sleep 30', {
      onChannel: (channel) =>
        channel.once('data', () => {
          bed.gw.clock.advance(Date.parse(expiresAt) - bed.gw.clock.now() + 1);
          advancedAt = Date.now();
        }),
    });
    const ended = await result;
    expect(Date.now() - advancedAt).toBeLessThan(1000);
    expect(ended.stdout.toString()).toBe('started\n');
    expect(ended.stderr).toMatch(/Your access to web-short ended at \d\d:\d\d UTC \(grant limit\)/);
    client.end();
    const row = await bed.gw.gateway.services.store.getSession(sessionId);
    expect(row?.state).toBe('ended');
    expect(row?.endReason).toContain('expired');
  });

  it('ends a live session within a second of an API terminate', async () => {
    const { sessionId, ticket } = await bed.newSession();
    const client = await bed.connect(sessionId, ticket);
    let terminatedAt = 0;
    const result = exec(client, 'echo started; sleep 30', {
      onChannel: (channel) =>
        channel.once('data', async () => {
          const response = await bed.gw.request('POST', `/v1/sessions/${sessionId}/terminate`, {
            token: bed.adminToken,
          });
          expect(response.status).toBe(200);
          terminatedAt = Date.now();
        }),
    });
    const ended = await result;
    expect(Date.now() - terminatedAt).toBeLessThan(1000);
    expect(ended.stderr).toContain('Your session on web-1 was ended (terminated by root-admin)');
    client.end();
    const events = await verifiedRecording(sessionId);
    expect(json(events, eventKinds.meta)).toContainEqual({
      type: 'session-end',
      reason: 'terminated by root-admin',
    });
  });

  it('ends a live session within a second of its grant being revoked', async () => {
    const resourceId = await bed.addResource('web-revoke');
    const { sessionId, ticket } = await bed.newSession('web-revoke');
    const client = await bed.connect(sessionId, ticket);
    const grants = await bed.gw.request('GET', '/v1/grants', { token: bed.adminToken });
    const grant = grants.json.grants.find(
      (g: { target: { resourceId?: string } }) => g.target.resourceId === resourceId,
    );
    expect(grant).toBeDefined();
    let revokedAt = 0;
    const result = exec(client, 'echo started; sleep 30', {
      onChannel: (channel) =>
        channel.once('data', async () => {
          const response = await bed.gw.request('DELETE', `/v1/grants/${grant.id}`, {
            token: bed.adminToken,
          });
          expect(response.status).toBe(204);
          revokedAt = Date.now();
        }),
    });
    const ended = await result;
    expect(Date.now() - revokedAt).toBeLessThan(1000);
    expect(ended.stdout.toString()).toBe('started\n');
    client.end();
    const row = await bed.gw.gateway.services.store.getSession(sessionId);
    expect(row).toMatchObject({
      state: 'ended',
      endReason: 'access revoked: the grant was deleted',
    });
  });

  it('fails closed when the recorder fails: the session ends and no unrecorded byte is forwarded', async () => {
    bed.memory.options = { failAfterBytes: 3_000_000 };
    bed.recorders.current = bed.memory;
    try {
      const { sessionId, ticket } = await bed.newSession();
      const client = await bed.connect(sessionId, ticket);
      const result = await exec(client, 'head -c 20000000 /dev/zero | tr "\\0" "x"');
      const recording = bed.memory.get(sessionId);
      const recorded = recording.bytes(eventKinds.output);
      expect(result.stderr).toContain(
        'Witness: the recording could not be saved; this session was closed.',
      );
      expect(result.stdout.length).toBeGreaterThan(0);
      expect(result.stdout.length).toBeLessThanOrEqual(recorded.length);
      expect(recorded.subarray(0, result.stdout.length).equals(result.stdout)).toBe(true);
      expect(recorded.length).toBeLessThan(20_000_000);
      client.end();
      const row = await waitFor(async () => {
        const s = await bed.gw.gateway.services.store.getSession(sessionId);
        return s?.state === 'ended' ? s : undefined;
      }, 'the session to end');
      expect(row.endReason).toContain('recording failed');
    } finally {
      bed.recorders.current = bed.gw.gateway.services.recorder;
      bed.memory.options = {};
    }
    // The gateway still serves new sessions.
    const next = await bed.newSession();
    const client = await bed.connect(next.sessionId, next.ticket);
    expect((await exec(client, 'echo fine')).stdout.toString()).toBe('fine\n');
    client.end();
  });

  it('refuses port forwarding, X11 and agent forwarding with a recorded refusal', async () => {
    const { sessionId, ticket } = await bed.newSession();
    // An agent is configured (never contacted) so ssh2 is willing to ask for forwarding.
    const client = await bed.connect(sessionId, ticket, { agent: '/nonexistent/agent.sock' });
    await expect(
      new Promise((resolve, reject) =>
        client.forwardOut('127.0.0.1', 5000, '127.0.0.1', bed.sshd.port, (error, channel) =>
          error ? reject(error) : resolve(channel),
        ),
      ),
    ).rejects.toThrow();
    await expect(
      new Promise((resolve, reject) =>
        client.exec('echo x', { x11: true }, (error, channel) =>
          error ? reject(error) : resolve(channel),
        ),
      ),
    ).rejects.toThrow(/X11/);
    await expect(
      new Promise((resolve, reject) =>
        client.exec('echo x', { agentForward: true } as ExecOptions, (error, channel) =>
          error ? reject(error) : resolve(channel),
        ),
      ),
    ).rejects.toThrow(/agent/i);
    const after = await exec(client, 'echo after');
    expect(after.stdout.toString()).toBe('after\n');
    client.end();
    const meta = json(await verifiedRecording(sessionId), eventKinds.meta);
    expect(meta).toContainEqual(
      expect.objectContaining({ type: 'refused', request: 'direct-tcpip' }),
    );
    expect(meta).toContainEqual({ type: 'refused', request: 'x11' });
    expect(meta).toContainEqual({ type: 'refused', request: 'auth-agent' });
  });
});

describeWithSshd('SSH port forwarding through the gateway, where the listener allows it', () => {
  let bed: SshTestBed;
  let echo: Server;

  beforeAll(async () => {
    bed = await startSshTestBed({ allowDirectTcpip: true });
    echo = createServer((socket) => socket.pipe(socket));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => echo?.close(resolve));
    await bed?.close();
  });

  it('bridges a direct-tcpip channel to a service behind the target, and records it', async () => {
    const { sessionId, ticket } = await bed.newSession();
    const client = await bed.connect(sessionId, ticket);
    const port = (echo.address() as AddressInfo).port;
    const tunnel = await new Promise<ClientChannel>((resolve, reject) =>
      client.forwardOut('127.0.0.1', 40000, '127.0.0.1', port, (error, channel) =>
        error ? reject(error) : resolve(channel),
      ),
    );
    const received: Buffer[] = [];
    tunnel.on('data', (chunk: Buffer) => received.push(chunk));
    const payload = randomBytes(256 * 1024);
    tunnel.write(payload);
    await waitFor(
      () => Buffer.concat(received).length >= payload.length,
      'the echo to come back through the tunnel',
    );
    expect(Buffer.concat(received).equals(payload)).toBe(true);
    tunnel.end();
    client.end();

    const services = bed.gw.gateway.services;
    const meta = await waitFor(async () => {
      const row = await services.store.getRecording(sessionId);
      return row && row.status !== 'recording' ? row : undefined;
    }, 'the recording to close');
    const events: RecordingEvent[] = [];
    const report = await verifyRecording(services.recordings.open(meta), {
      publicKeyPem: services.keys.recordingKey.publicKeyPem,
      expectedSessionId: sessionId,
      onEvent: (event) => events.push({ ...event, data: Buffer.from(event.data) }),
    });
    expect(report.status, report.message).toBe('verified');
    const opened = events
      .filter((e) => e.kind === eventKinds.meta)
      .map((e) => JSON.parse(Buffer.from(e.data).toString()) as Record<string, unknown>);
    expect(opened).toContainEqual({
      type: 'direct-tcpip',
      destHost: '127.0.0.1',
      destPort: port,
      srcHost: '127.0.0.1',
      srcPort: 40000,
    });
    const sent = Buffer.concat(events.filter((e) => e.kind === 'i').map((e) => e.data));
    const back = Buffer.concat(events.filter((e) => e.kind === 'o').map((e) => e.data));
    expect(sent.equals(payload)).toBe(true);
    expect(back.equals(payload)).toBe(true);
  });
});
