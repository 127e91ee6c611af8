/**
 * TunnelService around the real tunnel listener on loopback (no gateway: the session source
 * refuses, as the gateway does without a grant, so no connection is ever relayed): ports are
 * remembered per gateway and resource, a busy port is a sentence, the access check and a
 * refused session end the tunnel with the panel's message, quitting closes every tunnel.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { DesktopError, type TunnelView } from '../../ipc/contract.ts';
import { FileTunnelPortStore } from './tunnelPorts.ts';
import { type AccessCheck, TunnelService, type TunnelServiceDeps } from './tunnelService.ts';

const GATEWAY = 'https://gw.example:8443';
const noAccess = 'You have no active grant for orders-db — ask an admin for access.';

function refusedPort(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('TunnelService', () => {
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  function service(over: Partial<TunnelServiceDeps> = {}) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-tunnels-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const changes: TunnelView[][] = [];
    let access: AccessCheck = { kind: 'granted' };
    const ended: string[] = [];
    const tunnels = new TunnelService({
      gateway: () => ({ url: GATEWAY, caPem: 'unused: no session is ever created' }),
      username: () => 'alice',
      resource: async (id) => {
        if (id === 'res_web') return { id, name: 'web-1', kind: 'ssh', database: '' };
        return { id, name: 'orders-db', kind: 'postgres', database: 'orders' };
      },
      sessions: {
        createSession: async () => {
          throw new DesktopError('forbidden', noAccess);
        },
      },
      accessRefusal: (error) =>
        error instanceof DesktopError && error.code === 'forbidden' ? error.message : null,
      sessionEndReason: async () => null,
      checkAccess: async () => access,
      endSession: async (id) => {
        ended.push(id);
      },
      ports: new FileTunnelPortStore(dir),
      onChange: (list) => changes.push(list),
      log: () => {},
      accessCheckMs: 50,
      ...over,
    });
    cleanups.push(() => tunnels.endAll('app-quit'));
    return {
      tunnels,
      changes,
      ended,
      dir,
      setAccess: (next: AccessCheck) => {
        access = next;
      },
    };
  }

  it('remembers the port per resource and reopens on it; the lines name it', async () => {
    const { tunnels, dir } = service();
    const first = await tunnels.open('res_orders');
    expect(first).toMatchObject({
      resourceName: 'orders-db',
      host: '127.0.0.1',
      state: { kind: 'open' },
    });
    expect(first.lines.psql).toBe(
      `psql "host=127.0.0.1 port=${first.port} dbname=orders sslmode=disable"`,
    );
    expect(tunnels.openCount()).toBe(1);
    // Opening again while open gives the same tunnel, not a second listener.
    expect((await tunnels.open('res_orders')).tunnelId).toBe(first.tunnelId);
    await tunnels.close(first.tunnelId);
    expect(await refusedPort(first.port)).toBe(true);
    // A new service (the app started again) reads the same file.
    const store = new FileTunnelPortStore(dir);
    expect(await store.get(GATEWAY, 'res_orders')).toBe(first.port);
    expect(await store.get('https://other:8443', 'res_orders')).toBeNull();
    const again = await tunnels.open('res_orders');
    expect(again.port).toBe(first.port);
  });

  it('says so when the port is busy, and refuses non-PostgreSQL resources', async () => {
    const { tunnels } = service();
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => squatter.close(resolve)));
    const busy = (squatter.address() as { port: number }).port;
    await expect(tunnels.open('res_orders', busy)).rejects.toMatchObject({
      code: 'conflict',
      message: `Port ${busy} on 127.0.0.1 is already in use by another program. Choose another port for orders-db (0 picks a free one).`,
    });
    await expect(tunnels.open('res_web')).rejects.toMatchObject({
      code: 'invalid_request',
      message: 'web-1 is not a PostgreSQL database; tunnels are for PostgreSQL resources.',
    });
    expect(tunnels.list()).toEqual([]);
  });

  it('ends the tunnel when the access check finds the grant gone, keeping the message until dismissed', async () => {
    const { tunnels, changes, setAccess } = service();
    const opened = await tunnels.open('res_orders');
    setAccess({ kind: 'ended', message: 'Your access to orders-db has ended.' });
    await expect
      .poll(() => tunnels.list()[0]?.state, { timeout: 5_000 })
      .toEqual({
        kind: 'ended',
        reason: 'grant-ended',
        message: `Your access to orders-db has ended. The tunnel on 127.0.0.1:${opened.port} was closed — request access again, then reopen it.`,
      });
    await expect.poll(() => refusedPort(opened.port)).toBe(true);
    expect(tunnels.openCount()).toBe(0);
    expect(changes.at(-1)?.[0]?.state.kind).toBe('ended');
    await tunnels.close(opened.tunnelId);
    expect(tunnels.list()).toEqual([]);
  });

  it('ends the tunnel when the gateway refuses a session for lack of access; the client hears why', async () => {
    const { tunnels } = service({ accessCheckMs: 60_000 });
    const opened = await tunnels.open('res_orders');
    const client = new pg.Client({
      host: '127.0.0.1',
      port: opened.port,
      user: 'alice',
      database: 'orders',
    });
    client.on('error', () => {});
    const failure = await client.connect().then(
      () => 'connected',
      (error: Error) => error.message,
    );
    expect(failure).toContain(noAccess);
    await expect.poll(() => tunnels.list()[0]?.state.kind).toBe('ended');
    expect(tunnels.list()[0]?.state).toMatchObject({ reason: 'grant-ended' });
    await expect.poll(() => refusedPort(opened.port)).toBe(true);
  });

  it('quitting closes every tunnel and forgets them', async () => {
    const { tunnels } = service();
    const opened = await tunnels.open('res_orders');
    await tunnels.endAll('app-quit');
    expect(await refusedPort(opened.port)).toBe(true);
    expect(tunnels.list()).toEqual([]);
  });
});
