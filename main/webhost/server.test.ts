/**
 * The web host against real clients on loopback: `ws` for the WebSocket (it can set any Origin
 * and subprotocol, which a browser would not let a test do) and raw HTTP for paths that fetch()
 * would normalise before sending.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { BRIDGE_SUBPROTOCOL, MAX_MESSAGE_BYTES, SECRET_SUBPROTOCOL_PREFIX } from './protocol.ts';
import { startWebHost, type WebHost } from './server.ts';
import { createStubWebHostApp, type StubWebHostApp, stubState } from './stubWebHostApp.ts';

let dir: string;
let host: WebHost;
let app: StubWebHostApp;
let secret: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'witness-webhost-'));
  const rendererDir = path.join(dir, 'renderer');
  mkdirSync(path.join(rendererDir, 'assets'), { recursive: true });
  writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Witness</title>');
  writeFileSync(path.join(rendererDir, 'assets', 'app.js'), 'console.log("app")');
  writeFileSync(path.join(rendererDir, 'assets', 'app.css'), 'body{}');
  writeFileSync(path.join(dir, 'outside-secret.txt'), 'TOP-SECRET');
  symlinkSync(path.join(dir, 'outside-secret.txt'), path.join(rendererDir, 'assets', 'link.txt'));
  app = createStubWebHostApp();
  host = await startWebHost({ app, rendererDir, port: 0 });
  secret = new URL(host.url).hash.replace('#token=', '');
});

afterAll(async () => {
  await host?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A raw GET, so the path reaches the server byte for byte. */
function rawGet(
  rawPath: string,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: host.port,
        path: rawPath,
        headers: { host: `127.0.0.1:${host.port}`, ...headers },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => {
          body += c.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

interface OpenedClient {
  ws: WebSocket;
  messages: unknown[];
  closed: Promise<{ code: number; reason: string }>;
  call(name: string, request: unknown): Promise<unknown>;
}

function openClient(
  options: { secret?: string | null; origin?: string | null; protocols?: string[] } = {},
): Promise<OpenedClient> {
  const offered = options.protocols ?? [
    BRIDGE_SUBPROTOCOL,
    ...(options.secret === null ? [] : [`${SECRET_SUBPROTOCOL_PREFIX}${options.secret ?? secret}`]),
  ];
  const ws = new WebSocket(`ws://127.0.0.1:${host.port}/ipc`, offered, {
    ...(options.origin === null ? {} : { origin: options.origin ?? host.origin }),
  });
  const messages: unknown[] = [];
  let nextId = 1;
  const waiting = new Map<number, (outcome: unknown) => void>();
  ws.on('message', (data) => {
    const message = JSON.parse(data.toString()) as { type: string; id?: number; outcome?: unknown };
    messages.push(message);
    if (message.type === 'result' && message.id !== undefined)
      waiting.get(message.id)?.(message.outcome);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const client: OpenedClient = {
    ws,
    messages,
    closed,
    call(name, request) {
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        ws.send(JSON.stringify({ type: 'call', id, name, request }));
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) =>
      reject(new Error(`upgrade refused: ${res.statusCode}`)),
    );
    ws.once('error', reject);
  });
}

describe('web host: static files', () => {
  it('serves index.html at / with the strict CSP and security headers', async () => {
    const res = await rawGet('/');
    expect(res.status).toBe(200);
    expect(res.body).toContain('<title>Witness</title>');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe/);
    expect(csp).toContain(`connect-src 'self' ws://127.0.0.1:${host.port}`);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('serves assets with their content types', async () => {
    const js = await rawGet('/assets/app.js');
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    const css = await rawGet('/assets/app.css?v=1');
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it.each([
    '/../outside-secret.txt',
    '/assets/../../outside-secret.txt',
    '/%2e%2e/outside-secret.txt',
    '/assets/..%2f..%2foutside-secret.txt',
    '/assets/%2e%2e%5c%2e%2e%5coutside-secret.txt',
    '/assets/link.txt',
    '/assets/app.js%00.html',
    '/%E0%A4%A',
    '/assets/',
  ])('refuses %s', async (p) => {
    const res = await rawGet(p);
    expect(res.status).toBe(404);
    expect(res.body).not.toContain('TOP-SECRET');
  });

  it('refuses other methods and other Host names (DNS rebinding)', async () => {
    const post = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(
        { host: '127.0.0.1', port: host.port, path: '/', method: 'POST' },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(post).toBe(405);
    const rebound = await rawGet('/', { host: `attacker.example:${host.port}` });
    expect(rebound.status).toBe(421);
    expect(rebound.body).not.toContain('Witness');
  });
});

describe('web host: who may connect', () => {
  it('refuses a missing secret with 4401 and a reason', async () => {
    const client = await openClient({ secret: null });
    const closed = await client.closed;
    expect(closed.code).toBe(4401);
    expect(closed.reason).toMatch(/launch secret/);
  });

  it('refuses a wrong secret (same length) with 4401', async () => {
    const wrong = `${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`;
    const client = await openClient({ secret: wrong });
    expect((await client.closed).code).toBe(4401);
  });

  it('does not echo the secret in the selected subprotocol', async () => {
    const client = await openClient();
    expect(client.ws.protocol).toBe(BRIDGE_SUBPROTOCOL);
    client.ws.close();
    await client.closed;
  });

  it.each([
    ['another page on this machine', 'http://127.0.0.1:1'],
    ['a remote site', 'https://attacker.example'],
    ['localhost spelled differently', `http://localhost:0`],
    ['no Origin at all', null],
  ])('refuses %s before the handshake (403)', async (_what, origin) => {
    await expect(openClient({ origin })).rejects.toThrow(/upgrade refused: 403/);
  });

  it('refuses other paths', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${host.port}/other`, { origin: host.origin });
    const status = await new Promise<number>((resolve) => {
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => resolve(-1));
    });
    expect(status).toBe(404);
  });
});

describe('web host: calls and events', () => {
  it('dispatches a call through the contract (undeclared fields stripped)', async () => {
    const client = await openClient();
    const outcome = (await client.call('app.getState', {})) as { ok: boolean; value: object };
    expect(outcome.ok).toBe(true);
    expect(outcome.value).toHaveProperty('secretStore');
    expect(JSON.stringify(client.messages)).not.toContain('stub-access-token');
    client.ws.close();
    await client.closed;
  });

  it('answers unknown calls, invalid requests and handler errors with {code, message}', async () => {
    const client = await openClient();
    expect(await client.call('fs.readFile', { path: '/etc/passwd' })).toMatchObject({
      ok: false,
      error: { code: 'unknown_call' },
    });
    expect(await client.call('account.login', { username: 'a' })).toMatchObject({
      ok: false,
      error: { code: 'invalid_request' },
    });
    expect(await client.call('account.login', { username: 'a', password: 'b' })).toMatchObject({
      ok: false,
      error: { code: 'wrong_credentials', message: 'Wrong username or password.' },
    });
    const unexpected = (await client.call('recordings.verify', { sessionId: 's' })) as {
      error: { code: string; message: string };
    };
    expect(unexpected.error.code).toBe('internal');
    expect(unexpected.error.message).not.toContain('/secret/details');
    client.ws.close();
    await client.closed;
  });

  it('sends a caller its own events only, broadcasts to all, and reports a closed client', async () => {
    const a = await openClient();
    const b = await openClient();
    await a.call('terminals.write', { terminalId: 't1', data: 'only-for-a' });
    await b.call('app.getState', {});
    app.broadcast('app.stateChanged', stubState);
    await until(() =>
      b.messages.some((m) => (m as { type: string; name?: string }).name === 'app.stateChanged'),
    );
    await until(() =>
      a.messages.some((m) => (m as { type: string; name?: string }).name === 'app.stateChanged'),
    );
    expect(JSON.stringify(a.messages)).toContain('only-for-a');
    expect(JSON.stringify(b.messages)).not.toContain('only-for-a');
    const aId = app.calls.find((c) => c.name === 'terminals.write')?.clientId;
    expect(aId).toBeDefined();
    a.ws.close();
    await a.closed;
    await until(() => app.disconnected.includes(aId as string));
    expect(app.disconnected).toContain(aId);
    b.ws.close();
    await b.closed;
  });

  it('closes a client that sends malformed JSON, an unknown type or binary, and keeps serving others', async () => {
    const healthy = await openClient();
    for (const bad of [
      '{not json',
      JSON.stringify({ type: 'hello', id: 1 }),
      JSON.stringify({ type: 'call', id: 'x', name: 'app.getState' }),
      Buffer.from([1, 2, 3]),
    ]) {
      const client = await openClient();
      client.ws.send(bad);
      const closed = await client.closed;
      expect([1008, 1003]).toContain(closed.code);
    }
    expect(await healthy.call('app.getState', {})).toMatchObject({ ok: true });
    healthy.ws.close();
    await healthy.closed;
  });

  it('closes a client that sends an oversized frame (1009), and keeps serving others', async () => {
    const healthy = await openClient();
    const client = await openClient();
    client.ws.on('error', () => {}); // the server's close races our send; either is fine
    client.ws.send(
      JSON.stringify({
        type: 'call',
        id: 1,
        name: 'terminals.write',
        request: { terminalId: 't', data: 'x'.repeat(MAX_MESSAGE_BYTES) },
      }),
    );
    expect((await client.closed).code).toBe(1009);
    expect(await healthy.call('app.getState', {})).toMatchObject({ ok: true });
    healthy.ws.close();
    await healthy.closed;
  });

  it('does not let a half-open TCP connection block others', async () => {
    const idle = connect(host.port, '127.0.0.1');
    await new Promise((resolve) => idle.once('connect', resolve));
    const client = await openClient();
    expect(await client.call('app.getState', {})).toMatchObject({ ok: true });
    client.ws.close();
    await client.closed;
    idle.destroy();
  });
});

describe('web host: heartbeat', () => {
  it('drops a client that stops answering pings, and reports it gone', async () => {
    const otherApp = createStubWebHostApp();
    const other = await startWebHost({
      app: otherApp,
      rendererDir: dir,
      port: 0,
      heartbeatMs: 100,
    });
    const s = new URL(other.url).hash.replace('#token=', '');
    const connectOne = async () => {
      const ws = new WebSocket(
        `ws://127.0.0.1:${other.port}/ipc`,
        [BRIDGE_SUBPROTOCOL, `${SECRET_SUBPROTOCOL_PREFIX}${s}`],
        { origin: other.origin },
      );
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      return ws;
    };
    const healthy = await connectOne();
    const hung = await connectOne();
    hung.on('error', () => {});
    const hungClosed = new Promise((resolve) => hung.once('close', resolve));
    // The page stops reading: ws can no longer see pings, so it cannot answer them.
    (hung as unknown as { _socket: { pause(): void } })._socket.pause();
    await until(() => otherApp.disconnected.length > 0);
    await new Promise((r) => setTimeout(r, 300)); // a few more rounds for the healthy one
    expect(otherApp.disconnected).toHaveLength(1);
    expect(healthy.readyState).toBe(WebSocket.OPEN);
    hung.terminate();
    await hungClosed;
    healthy.close();
    await other.close();
  });
});

describe('web host: close', () => {
  it('closes open clients with 1001 and disposes the app', async () => {
    const otherApp = createStubWebHostApp();
    const other = await startWebHost({ app: otherApp, rendererDir: dir, port: 0 });
    const s = new URL(other.url).hash.replace('#token=', '');
    const ws = new WebSocket(
      `ws://127.0.0.1:${other.port}/ipc`,
      [BRIDGE_SUBPROTOCOL, `${SECRET_SUBPROTOCOL_PREFIX}${s}`],
      { origin: other.origin },
    );
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await other.close();
    expect(await closed).toBe(1001);
    expect(otherApp.disposed).toBe(true);
  });
});

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
