/**
 * The first run of `npm start` as the desktop services see it (issue #5): nothing enrolled, so
 * createDesktopApp starts the embedded local gateway (a real `witness-gateway` process with
 * SQLite under the app-data folder), pins it, walks the first user through creating the admin
 * account, provisions the demo SSH target, and a terminal on it answers `echo $((6*7))`. A
 * restart brings the same gateway back and resumes the stored session.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type CallerContext,
  type CallName,
  type CallRequest,
  type CallResponse,
  DesktopError,
  type EventName,
  type EventPayload,
} from '../../main/ipc/contract.ts';
import { createDispatcher } from '../../main/ipc/dispatcher.ts';
import { createDesktopApp, type DesktopApp } from '../../main/services/desktopApp.ts';
import { LocalGateway } from '../../main/services/localGateway/localGateway.ts';
import { GATEWAY_BIN } from '../harness/gatewayProcess.ts';
import { testEncryptor } from '../harness/testEncryptor.ts';

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const portOpen = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

describe('desktop first run with the embedded local gateway', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-desktop-local-'));
  const encryptor = testEncryptor();
  const apps: DesktopApp[] = [];
  const logs: string[] = [];
  const gateways: LocalGateway[] = [];

  async function openApp() {
    const app = await createDesktopApp(
      {
        appDataDir: dir,
        secretStore: 'auto',
        encryptor,
        gatewayBin: GATEWAY_BIN,
        useLocalGatewayWhenNoneEnrolled: true,
        log: (line) => logs.push(line),
      },
      {
        openKeychain: async () => ({ unavailable: 'no Secret Service in this test' }),
        // The real LocalGateway; PostgreSQL's initdb is left out to spare the shared CPUs
        // (C's own tests cover the PostgreSQL demo target).
        createLocalGateway: (options) => {
          const gateway = new LocalGateway({ ...options, demoTargets: { skipPostgres: true } });
          gateways.push(gateway);
          return gateway;
        },
      },
    );
    apps.push(app);
    const events: { name: EventName; payload: unknown }[] = [];
    const emit = <E extends EventName>(name: E, payload: EventPayload<E>) => {
      events.push({ name, payload });
    };
    app.onBroadcast(emit);
    const caller: CallerContext = { clientId: 'window-1', emit };
    const dispatcher = createDispatcher(app.handlers, {
      logUnexpected: (name, error) => logs.push(`${name}: ${String(error)}`),
    });
    const call = async <N extends CallName>(
      name: N,
      request: CallRequest<N>,
    ): Promise<CallResponse<N>> => {
      const outcome = await dispatcher.dispatch(name, request, caller);
      if (!outcome.ok) throw new DesktopError(outcome.error.code, outcome.error.message);
      return outcome.value as CallResponse<N>;
    };
    return { app, call, events };
  }

  afterAll(async () => {
    for (const app of apps) await app.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts the local gateway, creates the admin, opens a terminal on the demo target, and resumes after a restart', async () => {
    const first = await openApp();
    expect((await first.call('app.getState', {})).localGateway.state).toMatch(
      /starting|needs-admin/,
    );
    await first.app.started;
    const initial = await first.call('app.getState', {});
    expect(initial.localGateway.state, JSON.stringify({ initial, logs })).toBe('needs-admin');
    expect(initial.gateway).toMatchObject({ isLocal: true });
    expect(initial.gateway?.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(initial.account).toBeNull();
    expect(first.events.some((e) => e.name === 'app.stateChanged')).toBe(true);

    const state = await first.call('localGateway.createAdmin', {
      username: 'admin',
      password: 'admin-password-1',
    });
    expect(state.account).toEqual({ username: 'admin', role: 'admin' });
    expect(state.localGateway.state).toBe('ready');
    const { resources } = await first.call('resources.list', {});
    const demo = resources.find((r) => r.name === 'demo-ssh');
    expect(demo, JSON.stringify({ resources, status: state.localGateway })).toMatchObject({
      kind: 'ssh',
      access: 'admin',
    });

    // A first-time user's terminal: echo $((6*7)) comes back as 42.
    const opened = await first.call('terminals.open', {
      resourceId: demo!.id,
      size: { cols: 80, rows: 24 },
    });
    let output = '';
    const seen42 = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no 42 in: ${output}`)), 30_000);
      const poll = setInterval(() => {
        output = first.events
          .filter((e) => e.name === 'terminal.data')
          .map((e) => (e.payload as { data: string }).data)
          .join('');
        if (/\b42\b/.test(output.replace('$((6*7))', ''))) {
          clearTimeout(timer);
          clearInterval(poll);
          resolve();
        }
      }, 50);
    });
    await first.call('terminals.write', { terminalId: opened.terminalId, data: 'echo $((6*7))\r' });
    await seen42;

    // Signing out closes the person's terminals; signing in again works with the same account.
    const signedOut = await first.call('account.logout', {});
    expect(signedOut.account).toBeNull();
    await waitFor(() =>
      first.events.some(
        (e) =>
          e.name === 'terminal.ended' &&
          (e.payload as { terminalId: string }).terminalId === opened.terminalId,
      ),
    );
    expect(
      await first
        .call('terminals.write', { terminalId: opened.terminalId, data: 'x' })
        .catch((error: DesktopError) => error.code),
    ).toBe('terminal_not_found');
    const again = await first.call('account.login', {
      username: 'admin',
      password: 'admin-password-1',
    });
    expect(again.account).toEqual({ username: 'admin', role: 'admin' });

    const apiPort = Number(new URL(initial.gateway!.url).port);
    await first.app.dispose();
    expect(await portOpen(apiPort)).toBe(false);

    // Restart: the same local gateway comes back, and the stored session resumes.
    const second = await openApp();
    await second.app.started;
    const resumed = await second.call('app.getState', {});
    expect(resumed.localGateway.state, JSON.stringify({ resumed, logs })).toBe('ready');
    expect(resumed.gateway?.caFingerprint).toBe(initial.gateway?.caFingerprint);
    expect(resumed.account).toEqual({ username: 'admin', role: 'admin' });
    expect((await second.call('resources.list', {})).resources.map((r) => r.name)).toContain(
      'demo-ssh',
    );
  }, 180_000);
});
