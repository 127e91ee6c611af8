/**
 * The renderer cannot obtain a token, a ticket, a password or a target secret: a whole real
 * flow — enroll with the admin CLI's link, list resources, open an SSH terminal to a real sshd
 * through the real gateway, run a command, close, list and verify the recording, sign out and
 * in again — is driven through the web host's WebSocket, and every frame main sent to the
 * "renderer" is searched for each secret that passed through main on the way.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BRIDGE_SUBPROTOCOL, SECRET_SUBPROTOCOL_PREFIX } from '../../main/webhost/protocol.ts';
import {
  ALICE_PASSWORD,
  type DesktopTestBed,
  OPAQUE_TOKEN_PATTERN,
  startDesktopTestBed,
} from '../e2e/desktopTestBed.ts';
import { describeWithSshd } from '../harness/sshd.ts';

interface Frame {
  type: string;
  id?: number;
  name?: string;
  payload?: { terminalId?: string; data?: string; bytes?: number };
  outcome?: { ok: boolean; value?: unknown; error?: { code: string; message: string } };
}

describeWithSshd('security: what reaches the renderer', () => {
  let bed: DesktopTestBed;
  let ws: WebSocket;
  const received: string[] = [];
  const frames: Frame[] = [];
  let nextId = 1;
  const waiters = new Map<number, (frame: Frame) => void>();

  async function call<T>(name: string, request: unknown): Promise<T> {
    const id = nextId++;
    const frame = await new Promise<Frame>((resolve) => {
      waiters.set(id, resolve);
      ws.send(JSON.stringify({ type: 'call', id, name, request }));
    });
    if (!frame.outcome?.ok) throw new Error(`${name} failed: ${JSON.stringify(frame.outcome)}`);
    return frame.outcome.value as T;
  }

  async function until(check: () => boolean, what: string, timeoutMs = 20_000) {
    const start = Date.now();
    while (!check()) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  beforeAll(async () => {
    bed = await startDesktopTestBed();
    const secret = new URL(bed.host.url).hash.replace('#token=', '');
    ws = new WebSocket(
      `ws://127.0.0.1:${bed.host.port}/ipc`,
      [BRIDGE_SUBPROTOCOL, `${SECRET_SUBPROTOCOL_PREFIX}${secret}`],
      { origin: bed.host.origin },
    );
    ws.on('message', (data) => {
      const text = data.toString();
      received.push(text);
      const frame = JSON.parse(text) as Frame;
      frames.push(frame);
      if (frame.type === 'result' && frame.id !== undefined) waiters.get(frame.id)?.(frame);
      // Ack output the way the renderer does, so back-pressure never stalls the stream.
      if (frame.type === 'event' && frame.name === 'terminal.data' && frame.payload) {
        ws.send(
          JSON.stringify({
            type: 'call',
            id: nextId++,
            name: 'terminals.ack',
            request: { terminalId: frame.payload.terminalId, bytes: frame.payload.bytes },
          }),
        );
      }
    });
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
  }, 120_000);

  afterAll(async () => {
    ws?.close();
    await bed?.close();
  });

  it('a full flow leaks no token, ticket, password or target secret to the renderer', async () => {
    const initial = await call<{ gateway: unknown }>('app.getState', {});
    expect(initial.gateway).toBeNull();

    const enrolled = await call<{ account: { username: string } | null }>('account.enroll', {
      link: bed.enrollLink,
      password: ALICE_PASSWORD,
    });
    expect(enrolled.account?.username).toBe('alice');

    const { resources } = await call<{ resources: { id: string; name: string; access: string }[] }>(
      'resources.list',
      {},
    );
    const web = resources.find((r) => r.name === bed.resourceName);
    expect(web?.access).toBe('granted');

    const opened = await call<{ terminalId: string; sessionId: string }>('terminals.open', {
      resourceId: web?.id,
      size: { cols: 80, rows: 24 },
    });
    const output = () =>
      frames
        .filter((f) => f.name === 'terminal.data' && f.payload?.terminalId === opened.terminalId)
        .map((f) => f.payload?.data ?? '')
        .join('');
    await call('terminals.write', { terminalId: opened.terminalId, data: 'echo $((6*7))\n' });
    await until(() => /^42\r?$/m.test(output()), '42 in the terminal output');
    await call('terminals.close', { terminalId: opened.terminalId });
    await until(
      () =>
        frames.some(
          (f) => f.name === 'terminal.ended' && f.payload?.terminalId === opened.terminalId,
        ),
      'terminal.ended',
    );

    let verdict: { status: string } | null = null;
    const start = Date.now();
    while (Date.now() - start < 20_000) {
      const { recordings } = await call<{ recordings: { sessionId: string; status: string }[] }>(
        'recordings.list',
        {},
      );
      if (recordings.find((r) => r.sessionId === opened.sessionId)?.status === 'complete') {
        verdict = await call('recordings.verify', { sessionId: opened.sessionId });
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(verdict?.status).toBe('verified');

    await call('account.logout', {});
    const again = await call<{ account: { username: string } | null }>('account.login', {
      username: 'alice',
      password: ALICE_PASSWORD,
    });
    expect(again.account?.username).toBe('alice');

    // The checks: main held each of these at some point during the flow.
    expect(bed.secrets.tickets.length).toBeGreaterThan(0);
    const everything = received.join('\n');
    expect(received.length).toBeGreaterThan(10);
    // Positive control: the scan covers the frames that carried the flow.
    expect(everything).toContain('"username":"alice"');
    expect(everything).toContain('42\\r\\n'); // JSON-escaped CR LF after the echo
    expect(everything).not.toMatch(OPAQUE_TOKEN_PATTERN);
    for (const ticket of bed.secrets.tickets) expect(everything).not.toContain(ticket);
    for (const password of bed.secrets.passwords) expect(everything).not.toContain(password);
    const keyBody = bed.secrets.targetPrivateKey
      .split('\n')
      .filter((line) => line && !line.startsWith('-----'));
    expect(keyBody.length).toBeGreaterThan(1);
    for (const line of keyBody) expect(everything).not.toContain(line);
    expect(everything).not.toContain('PRIVATE KEY');
  });
});
