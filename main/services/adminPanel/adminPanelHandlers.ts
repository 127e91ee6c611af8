/**
 * The settings panel's calls (issue #14): users, groups, grants, access requests and live
 * sessions, each one gateway route through the signed-in client. The gateway enforces who may
 * do what; the contract's response schemas strip what the panel has no use for (grant policies,
 * approver ids), so nothing crosses to the renderer by accident. desktopApp.ts spreads these.
 */
import { formatEnrollLink } from '../../../gateway-client/enrollLink.ts';
import type { GatewayClient } from '../../../gateway-client/gatewayClient.ts';
import type { AdminPanelCallName, CallHandlers } from '../../ipc/contract.ts';
import { DesktopError } from '../../ipc/contract.ts';
import type { GatewayAccount } from '../gatewayAccount.ts';

export interface AdminPanelDeps {
  account: Pick<GatewayAccount, 'run' | 'pinned'>;
}

export function createAdminPanelHandlers(
  deps: AdminPanelDeps,
): Pick<CallHandlers, AdminPanelCallName> {
  const run = <T>(work: (client: GatewayClient) => Promise<T>) => deps.account.run(work);
  const pinnedGateway = () => {
    const pinned = deps.account.pinned();
    if (!pinned) throw new DesktopError('no_gateway', 'No gateway is set up yet.');
    return pinned;
  };
  return {
    'users.list': async () => ({ users: await run((c) => c.listUsers()) }),

    'users.create': async ({ username, role, groups }) => {
      const pinned = pinnedGateway();
      const created = await run((c) => c.createUser({ username, role, groups }));
      return { user: created.user, ...enrollLinkOf(pinned, created.enrollment) };
    },
    'users.disable': async ({ userId }) => run((c) => c.disableUser(userId)),
    'users.enable': async ({ userId }) => ({ user: await run((c) => c.enableUser(userId)) }),
    'users.setRole': async ({ userId, role }) => run((c) => c.setUserRole(userId, role)),
    'users.reset': async ({ userId, password, totp }) => {
      const pinned = pinnedGateway();
      const done = await run((c) => c.resetUser(userId, { password, totp }));
      return { user: done.user, ...enrollLinkOf(pinned, done.enrollment) };
    },

    'groups.list': async () => ({ groups: await run((c) => c.listGroups()) }),
    'groups.addMember': async ({ group, userId }) => ({
      group: await run((c) => c.addGroupMember(group, userId)),
    }),
    'groups.removeMember': async ({ group, userId }) => {
      await run((c) => c.removeGroupMember(group, userId));
      return {};
    },

    'grants.list': async ({ expiringWithin }) => {
      const answer = await run((c) =>
        c.call('listGrants', { query: expiringWithin ? { expiringWithin } : {} }),
      );
      return { grants: answer.grants };
    },
    'grants.create': async (request) => ({ grant: await run((c) => c.createGrant(request)) }),
    'grants.update': async ({ grantId, ...changes }) => ({
      grant: await run((c) => c.updateGrant(grantId, changes)),
    }),
    'grants.delete': async ({ grantId }) => {
      await run((c) => c.deleteGrant(grantId));
      return {};
    },

    'requests.create': async ({ resourceId, reason, durationSeconds }) => ({
      request: await run((c) => c.requestAccess({ resource: resourceId, reason, durationSeconds })),
    }),
    'requests.list': async ({ scope }) => ({
      requests: await run((c) => c.listAccessRequests({ scope })),
    }),
    'requests.approve': async ({ requestId, comment }) => ({
      request: await run((c) => c.approveAccessRequest(requestId, comment)),
    }),
    'requests.deny': async ({ requestId, comment }) => ({
      request: await run((c) => c.denyAccessRequest(requestId, comment)),
    }),

    'sessions.listLive': async () => ({
      sessions: await run((c) => c.listSessions({ state: 'live', limit: 500 })),
    }),
    'sessions.terminate': async ({ sessionId, reason }) => ({
      session: await run((c) => c.terminateSession(sessionId, reason)),
    }),
  };
}

/**
 * The `witness://enroll?…` link of a one-time enrollment token (invitation or password reset).
 * It carries the pinned CA's fingerprint, so the user pins without comparing.
 */
function enrollLinkOf(
  pinned: { url: string; caFingerprint: string },
  enrollment: { token: string; expiresAt: string } | null,
): { enrollLink: string | null; enrollExpiresAt: string | null } {
  if (!enrollment) return { enrollLink: null, enrollExpiresAt: null };
  return {
    enrollLink: formatEnrollLink({
      gateway: pinned.url,
      token: enrollment.token,
      fingerprint: pinned.caFingerprint,
    }),
    enrollExpiresAt: enrollment.expiresAt,
  };
}
