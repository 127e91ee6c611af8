import { describe, expect, it } from 'vitest';
import type { GatewayClient } from '../../../gateway-client/gatewayClient.ts';
import type { CallerContext, CallHandlers } from '../../ipc/contract.ts';
import { createDispatcher } from '../../ipc/dispatcher.ts';
import type { StoredGateway } from '../desktopProfile.ts';
import { createAdminPanelHandlers } from './adminPanelHandlers.ts';

const caller: CallerContext = { clientId: 'test', emit: () => {} };
const user = {
  id: 'usr_eve',
  username: 'eve',
  role: 'engineer',
  groups: ['oncall'],
  disabled: false,
  totpEnabled: false,
  createdAt: '2026-01-01T00:00:00Z',
};
const token = `wen_${'a'.repeat(43)}`;

/** The panel's handlers over a stand-in client, behind the real dispatcher. */
function panelWith(client: Partial<GatewayClient>) {
  const pinned = {
    url: 'https://gw.example:8443',
    caFingerprint: 'AB:CD',
  } as StoredGateway;
  const handlers = createAdminPanelHandlers({
    account: {
      pinned: () => pinned,
      run: async <T>(work: (c: GatewayClient) => Promise<T>) => work(client as GatewayClient),
    },
  });
  return createDispatcher(handlers as CallHandlers);
}

describe('settings panel calls in main', () => {
  it('turns the enrollment token into a link to the pinned gateway, with its CA fingerprint', async () => {
    const dispatcher = panelWith({
      createUser: async () =>
        ({ user, enrollment: { token, expiresAt: '2026-01-08T00:00:00Z' } }) as never,
    });
    const outcome = await dispatcher.dispatch(
      'users.create',
      { username: 'eve', role: 'engineer', groups: ['oncall'] },
      caller,
    );
    expect(outcome.ok).toBe(true);
    const value = (outcome as { value: { enrollLink: string; user: object } }).value;
    const link = new URL(value.enrollLink);
    expect(link.protocol).toBe('witness:');
    expect(link.searchParams.get('gateway')).toBe('https://gw.example:8443');
    expect(link.searchParams.get('token')).toBe(token);
    expect(link.searchParams.get('fingerprint')).toBe('AB:CD');
    // The raw enrollment object does not cross; only the link does.
    expect(Object.keys(value).sort()).toEqual(['enrollExpiresAt', 'enrollLink', 'user']);
  });

  it('asks the gateway to reset what was chosen and turns a new token into a link', async () => {
    const asked: unknown[] = [];
    const dispatcher = panelWith({
      resetUser: async (id: string, what: unknown) => {
        asked.push([id, what]);
        const password = (what as { password: boolean }).password;
        return {
          user,
          reset: what,
          signInsRevoked: true,
          enrollment: password ? { token, expiresAt: '2026-01-08T00:00:00Z' } : null,
        } as never;
      },
    });
    const both = await dispatcher.dispatch(
      'users.reset',
      { userId: 'usr_eve', password: true, totp: true },
      caller,
    );
    const value = (both as { value: { enrollLink: string } }).value;
    expect(new URL(value.enrollLink).searchParams.get('token')).toBe(token);
    expect(Object.keys(value).sort()).toEqual(['enrollExpiresAt', 'enrollLink', 'user']);
    const totpOnly = await dispatcher.dispatch(
      'users.reset',
      { userId: 'usr_eve', password: false, totp: true },
      caller,
    );
    expect((totpOnly as { value: { enrollLink: null } }).value.enrollLink).toBeNull();
    // Resetting nothing is refused before the gateway is asked.
    const nothing = await dispatcher.dispatch(
      'users.reset',
      { userId: 'usr_eve', password: false, totp: false },
      caller,
    );
    expect(nothing.ok).toBe(false);
    expect(asked).toEqual([
      ['usr_eve', { password: true, totp: true }],
      ['usr_eve', { password: false, totp: true }],
    ]);
  });

  it('strips what the gateway answers beyond the contract (grant policies, creators)', async () => {
    const grant = {
      id: 'grt_1',
      subject: { kind: 'group', group: 'oncall' },
      target: { kind: 'resource', resourceId: 'res_1' },
      mode: 'approval',
      validFrom: null,
      validUntil: null,
      maxSessionSeconds: 3600,
      description: '',
      policy: { masking: [{ column: 'ssn' }], guardrails: [] },
      createdBy: 'usr_root',
      createdAt: '2026-01-01T00:00:00Z',
      approvers: { users: ['usr_ada'], groups: [] },
      approvalsRequired: 1,
      requestId: null,
    };
    let query: unknown;
    const dispatcher = panelWith({
      call: (async (_name: string, options: { query: unknown }) => {
        query = options.query;
        return { grants: [grant] };
      }) as never,
    });
    const outcome = await dispatcher.dispatch('grants.list', { expiringWithin: '7d' }, caller);
    expect(query).toEqual({ expiringWithin: '7d' });
    const text = JSON.stringify(outcome);
    expect(text).toContain('grt_1');
    expect(text).not.toContain('ssn');
    expect(text).not.toContain('usr_root');
  });

  it('refuses a terminate without a reason before asking the gateway', async () => {
    let asked = false;
    const dispatcher = panelWith({
      terminateSession: (async () => {
        asked = true;
      }) as never,
    });
    const outcome = await dispatcher.dispatch(
      'sessions.terminate',
      { sessionId: 'ses_1', reason: '   ' },
      caller,
    );
    expect(outcome).toMatchObject({ ok: false, error: { code: 'invalid_request' } });
    expect(asked).toBe(false);
  });
});
