/**
 * The desktop's TerminalService against a real gateway SSH listener and a real OpenSSH sshd
 * behind it (test/harness/sshd.ts): typing, resize, exit codes, UTF-8 across packet
 * boundaries, acknowledged back-pressure on a large output, the gateway ending sessions
 * (admin terminate, grant revoke), and ownership by client id.
 */
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { type AddressInfo, connect as connectTcp, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  CallerContext,
  EventName,
  EventPayload,
  TerminalEndReason,
} from '../../main/ipc/contract.ts';
import { DesktopError } from '../../main/ipc/contract.ts';
import { DEFAULT_OUTPUT_FLOW } from '../../main/services/terminals/outputBatcher.ts';
import {
  type StartedTerminalSession,
  TerminalService,
  type TerminalSessionSource,
} from '../../main/services/terminals/terminalService.ts';
import { describeWithSshd, type SshTestBed, startSshTestBed } from '../harness/sshd.ts';

interface ClientLog {
  caller: CallerContext;
  data: Map<string, { text: string; bytes: number; batches: number }>;
  ended: Map<string, TerminalEndReason[]>;
  /** Called for every terminal.data event (the back-pressure test acks from here). */
  onData?: (terminalId: string, bytes: number) => void;
}

function clientLog(clientId: string): ClientLog {
  const log: ClientLog = {
    data: new Map(),
    ended: new Map(),
    caller: {
      clientId,
      emit: <E extends EventName>(name: E, payload: EventPayload<E>) => {
        if (name === 'terminal.data') {
          const p = payload as EventPayload<'terminal.data'>;
          const entry = log.data.get(p.terminalId) ?? { text: '', bytes: 0, batches: 0 };
          entry.text += p.data;
          entry.bytes += p.bytes;
          entry.batches += 1;
          log.data.set(p.terminalId, entry);
          log.onData?.(p.terminalId, p.bytes);
        } else if (name === 'terminal.ended') {
          const p = payload as EventPayload<'terminal.ended'>;
          log.ended.set(p.terminalId, [...(log.ended.get(p.terminalId) ?? []), p.reason]);
        }
      },
    },
  };
  return log;
}

async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * What a person would read: control sequences (bash turns bracketed paste on and off around
 * every command) and carriage returns removed.
 */
const text = (log: ClientLog, id: string) =>
  (log.data.get(id)?.text ?? '')
    // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ESC is the point
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .replace(/\r/g, '');

describeWithSshd('desktop terminals through the gateway', () => {
  let bed: SshTestBed;
  let service: TerminalService;
  /** Sessions handed out, by resource name, so tests can terminate them. */
  const started: StartedTerminalSession[] = [];
  /** Overrides for the next session (wrong host key, replayed ticket). */
  let tamper: ((session: StartedTerminalSession) => StartedTerminalSession) | undefined;

  beforeAll(async () => {
    bed = await startSshTestBed();
    // The resource "id" in these tests is its name; the bed looks it up as the engineer.
    const sessions: TerminalSessionSource = {
      async startSession(resourceName) {
        const created = await bed.newSession(resourceName);
        let session: StartedTerminalSession = {
          sessionId: created.sessionId,
          ticket: created.ticket,
          host: bed.ssh.address.host,
          port: bed.ssh.address.port,
          expiresAt: created.expiresAt,
          resourceName,
          gatewayHostKey: bed.ssh.hostKey.publicKeyLine,
        };
        if (tamper) session = tamper(session);
        started.push(session);
        return session;
      },
    };
    service = new TerminalService({ sessions });
  }, 60_000);

  afterAll(async () => {
    await service?.dispose();
    await bed?.close();
  });

  it('opens a shell, runs a command, resizes, and reports the exit code', async () => {
    const alice = clientLog('window-1');
    const opened = await service.open(alice.caller, {
      resourceId: 'web-1',
      size: { cols: 80, rows: 24 },
    });
    expect(opened.sessionId).toMatch(/^ses_/);
    expect(opened.resourceName).toBe('web-1');

    service.write('window-1', opened.terminalId, 'echo $((6*7))\n');
    await waitFor('42', () => /\n42\n/.test(text(alice, opened.terminalId)));

    service.write('window-1', opened.terminalId, 'stty size\n');
    await waitFor('24 80', () => text(alice, opened.terminalId).includes('24 80'));
    service.resize('window-1', opened.terminalId, { cols: 132, rows: 40 });
    service.write('window-1', opened.terminalId, 'stty size\n');
    await waitFor('40 132', () => text(alice, opened.terminalId).includes('40 132'));

    service.write('window-1', opened.terminalId, 'exit 3\n');
    const ended = await waitFor('the end', () => alice.ended.get(opened.terminalId));
    expect(ended).toEqual([{ kind: 'exited', exitCode: 3, signal: null }]);
    // Ended terminals are gone: further calls say so.
    expect(() => service.write('window-1', opened.terminalId, 'x')).toThrow(DesktopError);
    expect(service.openCount).toBe(0);
  });

  it('keeps multi-byte UTF-8 intact across packet boundaries', async () => {
    const log = clientLog('window-utf8');
    const { terminalId } = await service.open(log.caller, {
      resourceId: 'web-1',
      size: { cols: 200, rows: 50 },
    });
    // 世界🎉é as octal escapes, so the typed command itself is ASCII: 13 bytes per line, 20,000
    // lines — ~260 KB in 32 KiB packets, which split characters at many boundaries.
    const line = '世界🎉é';
    // Acked as it arrives, like the renderer does: more than the high-water mark is coming.
    log.onData = (_id, bytes) => {
      if (!log.ended.has(terminalId)) service.ack('window-utf8', terminalId, bytes);
    };
    service.write(
      'window-utf8',
      terminalId,
      `yes "$(printf '\\344\\270\\226\\347\\225\\214\\360\\237\\216\\211\\303\\251')" | head -n 20000; exit\n`,
    );
    const ended = await waitFor('the end', () => log.ended.get(terminalId), 30_000);
    expect(ended[0]?.kind).toBe('exited');
    const output = text(log, terminalId);
    expect(output).not.toContain('\ufffd');
    const lines = output.split('\n').filter((l) => l === line);
    expect(lines).toHaveLength(20_000);
    // Every batch's byte count adds up to the UTF-8 length of everything received.
    expect(log.data.get(terminalId)?.bytes).toBe(
      Buffer.byteLength(log.data.get(terminalId)?.text ?? '', 'utf8'),
    );
  }, 60_000);

  it('pauses a large output while acks lag, and delivers all of it in order', async () => {
    const highWater = DEFAULT_OUTPUT_FLOW.highWaterBytes;
    const maxBatch = DEFAULT_OUTPUT_FLOW.maxBatchBytes;
    const log = clientLog('window-seq');
    const { terminalId } = await service.open(log.caller, {
      resourceId: 'web-1',
      size: { cols: 80, rows: 24 },
    });
    let received = 0;
    let acked = 0;
    let maxUnacked = 0;
    let acking = false;
    log.onData = (_id, bytes) => {
      received += bytes;
      maxUnacked = Math.max(maxUnacked, received - acked);
      // A slow renderer: each batch is acknowledged 2 ms after it arrived.
      if (acking)
        setTimeout(() => {
          acked += bytes;
          // The last acks may come after the terminal ended (as in the renderer).
          if (!log.ended.has(terminalId)) service.ack('window-seq', terminalId, bytes);
        }, 2);
    };
    service.write('window-seq', terminalId, 'seq 1 2000000; exit\n');

    // Phase 1: no acks at all. The stream must stop near the high-water mark.
    let last = -1;
    let stableSince = Date.now();
    await waitFor(
      'the output to stop without acks',
      () => {
        if (received !== last) {
          last = received;
          stableSince = Date.now();
          return false;
        }
        // At the high-water mark, not before: under load the shell can take longer than the
        // 500 ms to start `seq` after echoing the command line.
        return received >= highWater && Date.now() - stableSince > 500;
      },
      30_000,
    );
    expect(received).toBeGreaterThanOrEqual(highWater);
    // Near it: the batch that crossed it can exceed maxBatch by the packet that completed it,
    // and a packet already read when the pause took effect still goes out (seen once in CI:
    // 299 bytes over highWater + maxBatch). Without the pause all ~14 MB would arrive.
    expect(received).toBeLessThanOrEqual(highWater + 2 * maxBatch);
    expect(log.ended.get(terminalId)).toBeUndefined();

    // Phase 2: ack what arrived, then keep acking slowly; everything arrives.
    acking = true;
    acked = received;
    service.ack('window-seq', terminalId, received);
    const ended = await waitFor('the end', () => log.ended.get(terminalId), 120_000);
    expect(ended).toEqual([{ kind: 'exited', exitCode: 0, signal: null }]);
    expect(maxUnacked).toBeLessThanOrEqual(highWater + maxBatch);

    const output = text(log, terminalId);
    const start = output.indexOf('\n1\n2\n3\n') + 1;
    const end = output.indexOf('\n2000000\n') + '\n2000000\n'.length;
    expect(start).toBeGreaterThan(0);
    const expected = `${Array.from({ length: 2_000_000 }, (_, i) => i + 1).join('\n')}\n`;
    // Compare lengths first: a mismatch in 15 MB is unreadable in a diff.
    expect(end - start).toBe(expected.length);
    expect(output.slice(start, end) === expected).toBe(true);
  }, 180_000);

  it('keeps under 1 MiB of a flood queued between sshd and the renderer while acks stop (issue #5)', async () => {
    // Every byte the target has written and the renderer has not painted is output queued ahead
    // of the echo of the next key. With no acks at all, how far the target's output gets before
    // everything stops is the sum of every queue on the way: the pty, sshd's channel buffer,
    // the gateway's upstream window and buffers, its pipe and client channel, the desktop's
    // channel window and buffers, and main's unacked bytes. ssh2's defaults let ~10 MB through.
    const bound = 1024 * 1024;
    const dir = mkdtempSync(join(tmpdir(), 'witness-flood-'));
    const progress = join(dir, 'produced');
    try {
      const log = clientLog('window-flood');
      const { terminalId } = await service.open(log.caller, {
        resourceId: 'web-1',
        size: { cols: 80, rows: 24 },
      });
      let received = 0;
      let acking = false;
      log.onData = (_id, bytes) => {
        received += bytes;
        if (acking && !log.ended.has(terminalId)) service.ack('window-flood', terminalId, bytes);
      };
      // The target runs on this machine as this user (test/harness/sshd.ts): tee writes each
      // block to the pty before the file, so the file's size is how far the output got (within
      // one 8 KiB block).
      service.write('window-flood', terminalId, `seq 1 1000000 | tee ${progress}; exit\n`);
      const producedBytes = () => {
        try {
          return statSync(progress).size;
        } catch {
          return 0;
        }
      };
      let last = -1;
      let stableSince = Date.now();
      await waitFor(
        'the flood to stop without acks',
        () => {
          const now = producedBytes();
          if (now !== last) {
            last = now;
            stableSince = Date.now();
            return false;
          }
          return now > 0 && Date.now() - stableSince > 1000;
        },
        30_000,
      );
      const file = readFileSync(progress, 'utf8');
      // Through the pty each line feed became CR LF.
      const producedThroughPty = file.length + (file.match(/\n/g)?.length ?? 0);
      // A batch goes out once it reaches maxBatchBytes, so the last one before the pause can
      // overshoot by up to one SSH packet (32 KiB, ssh2's channel packet size).
      expect(received).toBeLessThanOrEqual(
        DEFAULT_OUTPUT_FLOW.highWaterBytes + DEFAULT_OUTPUT_FLOW.maxBatchBytes + 32 * 1024,
      );
      expect(producedThroughPty).toBeGreaterThan(received);
      // Shown in the run's output: the number issue #5 is about.
      console.info(
        `flood with no acks: ${producedThroughPty} bytes produced, ${received} delivered`,
      );
      expect(producedThroughPty).toBeLessThan(bound);

      // Nothing was lost: acking lets the rest through, all of it.
      acking = true;
      service.ack('window-flood', terminalId, received);
      const ended = await waitFor('the end', () => log.ended.get(terminalId), 120_000);
      expect(ended).toEqual([{ kind: 'exited', exitCode: 0, signal: null }]);
      const output = text(log, terminalId);
      const start = output.indexOf('\n1\n2\n3\n') + 1;
      const end = output.indexOf('\n1000000\n') + '\n1000000\n'.length;
      expect(start).toBeGreaterThan(0);
      expect(output.slice(start, end) === readFileSync(progress, 'utf8')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('reports an admin terminate as the gateway ending the session, within about a second', async () => {
    const log = clientLog('window-term');
    const { terminalId, sessionId } = await service.open(log.caller, {
      resourceId: 'web-1',
      size: { cols: 80, rows: 24 },
    });
    service.write('window-term', terminalId, 'echo ready-$((1+1))\n');
    await waitFor('ready', () => text(log, terminalId).includes('ready-2'));
    const before = Date.now();
    const response = await bed.gw.request('POST', `/v1/sessions/${sessionId}/terminate`, {
      token: bed.adminToken,
    });
    expect(response.status).toBe(200);
    const ended = await waitFor('the end', () => log.ended.get(terminalId), 5_000);
    // The gateway polls every 250 ms; 2 s leaves room for a loaded two-core machine.
    expect(Date.now() - before).toBeLessThan(2_000);
    expect(ended).toHaveLength(1);
    expect(ended[0]).toMatchObject({ kind: 'gateway', cause: 'terminated' });
    expect(ended[0]?.kind === 'gateway' && ended[0].message).toMatch(/terminated by root-admin/);
  });

  it('reports a revoked grant as revoked', async () => {
    await bed.addResource('web-revoke');
    const log = clientLog('window-revoke');
    const { terminalId } = await service.open(log.caller, {
      resourceId: 'web-revoke',
      size: { cols: 80, rows: 24 },
    });
    service.write('window-revoke', terminalId, 'echo up-$((2+2))\n');
    await waitFor('up', () => text(log, terminalId).includes('up-4'));
    const grants = await bed.gw.request('GET', '/v1/grants', { token: bed.adminToken });
    const resources = await bed.gw.request('GET', '/v1/resources', { token: bed.adminToken });
    const resourceId = resources.json.resources.find(
      (r: { name: string }) => r.name === 'web-revoke',
    ).id;
    const grant = grants.json.grants.find(
      (g: { target: { kind: string; resourceId?: string } }) => g.target.resourceId === resourceId,
    );
    const deleted = await bed.gw.request('DELETE', `/v1/grants/${grant.id}`, {
      token: bed.adminToken,
    });
    expect(deleted.status).toBe(204);
    const ended = await waitFor('the end', () => log.ended.get(terminalId), 5_000);
    expect(ended).toEqual([
      expect.objectContaining({ kind: 'gateway', cause: 'revoked' }) as TerminalEndReason,
    ]);
  });

  it('reports the grant limit passing as expired', async () => {
    await bed.addResource('web-short', { maxSessionSeconds: 60 });
    const log = clientLog('window-expiry');
    const { terminalId } = await service.open(log.caller, {
      resourceId: 'web-short',
      size: { cols: 80, rows: 24 },
    });
    service.write('window-expiry', terminalId, 'echo on-$((3+3))\n');
    await waitFor('on', () => text(log, terminalId).includes('on-6'));
    bed.gw.clock.advance(61_000);
    const ended = await waitFor('the end', () => log.ended.get(terminalId), 5_000);
    expect(ended).toEqual([
      expect.objectContaining({
        kind: 'gateway',
        cause: 'expired',
        message: expect.stringMatching(/Your access to web-short ended at .* \(grant limit\)/),
      }) as TerminalEndReason,
    ]);
  });

  it('reports a dropped connection as connection-lost, once', async () => {
    // A TCP relay in front of the gateway's SSH listener, cut mid-session.
    const sockets = new Set<Socket>();
    const relay = createServer((inbound) => {
      const outbound = connectTcp(bed.ssh.address.port, bed.ssh.address.host);
      sockets.add(inbound).add(outbound);
      inbound.pipe(outbound).pipe(inbound);
      inbound.on('error', () => {});
      outbound.on('error', () => {});
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayPort = (relay.address() as AddressInfo).port;
    tamper = (session) => ({ ...session, port: relayPort });
    try {
      const log = clientLog('window-drop');
      const { terminalId } = await service.open(log.caller, {
        resourceId: 'web-1',
        size: { cols: 80, rows: 24 },
      });
      service.write('window-drop', terminalId, 'echo via-$((4+4))\n');
      await waitFor('via', () => text(log, terminalId).includes('via-8'));
      for (const socket of sockets) socket.destroy();
      const ended = await waitFor('the end', () => log.ended.get(terminalId), 5_000);
      expect(ended).toEqual([
        expect.objectContaining({ kind: 'connection-lost' }) as TerminalEndReason,
      ]);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(log.ended.get(terminalId)).toHaveLength(1);
    } finally {
      tamper = undefined;
      relay.close();
    }
  });

  it("refuses another client's terminal and closes a client's terminals when it goes away", async () => {
    const owner = clientLog('window-owner');
    const { terminalId } = await service.open(owner.caller, {
      resourceId: 'web-1',
      size: { cols: 80, rows: 24 },
    });
    for (const call of [
      () => service.write('window-other', terminalId, 'echo stolen\n'),
      () => service.resize('window-other', terminalId, { cols: 10, rows: 10 }),
      () => service.ack('window-other', terminalId, 10),
      () => service.close('window-other', terminalId),
    ]) {
      expect(call).toThrow(expect.objectContaining({ code: 'terminal_not_found' }));
    }
    service.closeAllFor('window-owner');
    expect(owner.ended.get(terminalId)).toEqual([{ kind: 'closed' }]);
    expect(() => service.write('window-owner', terminalId, 'x')).toThrow(
      expect.objectContaining({ code: 'terminal_not_found' }),
    );
    // Exactly one end event, even after the connection closes underneath.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(owner.ended.get(terminalId)).toHaveLength(1);
  });

  it('refuses a gateway whose SSH host key differs from the published one', async () => {
    tamper = (session) => ({
      ...session,
      gatewayHostKey:
        'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl',
    });
    try {
      await expect(
        service.open(clientLog('window-mitm').caller, {
          resourceId: 'web-1',
          size: { cols: 80, rows: 24 },
        }),
      ).rejects.toMatchObject({ code: 'gateway_certificate_mismatch' });
    } finally {
      tamper = undefined;
    }
  });

  it('says why the gateway refused a ticket that was already used', async () => {
    const first = clientLog('window-replay');
    await service.open(first.caller, { resourceId: 'web-1', size: { cols: 80, rows: 24 } });
    const used = started.at(-1)!;
    tamper = () => used;
    try {
      const refused = service.open(first.caller, {
        resourceId: 'web-1',
        size: { cols: 80, rows: 24 },
      });
      await expect(refused).rejects.toMatchObject({ code: 'forbidden' });
      await expect(refused).rejects.toThrow(/ticket/i);
    } finally {
      tamper = undefined;
      service.closeAllFor('window-replay');
    }
  });
});

describe('TerminalService without a gateway', () => {
  it('reports an unreachable SSH listener', async () => {
    const service = new TerminalService({
      sessions: {
        startSession: async () => ({
          sessionId: 'ses_aaaa',
          ticket: 'wtk_x',
          host: '127.0.0.1',
          port: 1,
          expiresAt: new Date().toISOString(),
          resourceName: 'nowhere',
          gatewayHostKey: 'ssh-ed25519 AAAA',
        }),
      },
    });
    await expect(
      service.open(clientLog('w').caller, { resourceId: 'x', size: { cols: 80, rows: 24 } }),
    ).rejects.toMatchObject({ code: 'gateway_unreachable' });
  });
});
