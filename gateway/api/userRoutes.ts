import type { AccessRevoked } from '../../shared/api/apiSchemas.ts';
import { GatewayError } from '../gatewayError.ts';
import type { AccessRevocation, UserAdmin } from '../users/userAdmin.ts';
import type { HandlersFor } from './apiRoute.ts';
import { iso, presentUser } from './presenters.ts';

/** The routes this module serves (issue #14). */
export type UserRouteName =
  | 'listUsers'
  | 'createUser'
  | 'disableUser'
  | 'enableUser'
  | 'setUserRole'
  | 'resetUser';

/** Users and offboarding; the table allows only admins, UserAdmin enforces the rest. */
export function userHandlers(users: UserAdmin): HandlersFor<UserRouteName> {
  return {
    listUsers: async () => ({ users: (await users.list()).map(presentUser) }),
    createUser: async ({ body }) => {
      const { user, enrollment } = await users.create(body);
      return {
        user: presentUser(user),
        enrollment: enrollment && { token: enrollment.token, expiresAt: iso(enrollment.expiresAt) },
      };
    },
    disableUser: async ({ auth, params }) =>
      presentRevocation(await users.disable(signedIn(auth), params.id)),
    enableUser: async ({ params }) => presentUser(await users.enable(params.id)),
    setUserRole: async ({ auth, params, body }) =>
      presentRevocation(await users.setRole(signedIn(auth), params.id, body.role)),
    resetUser: async ({ auth, params, body }) => {
      // Neither named means both, as the CLI's default.
      const both = body.password === undefined && body.totp === undefined;
      const { enrollment, ...outcome } = await users.reset(signedIn(auth), params.id, {
        password: body.password ?? both,
        totp: body.totp ?? both,
      });
      return {
        ...outcome,
        user: presentUser(outcome.user),
        enrollment: enrollment && { token: enrollment.token, expiresAt: iso(enrollment.expiresAt) },
      };
    },
  };
}

function signedIn<U>(auth: { user: U } | null): U {
  if (!auth) throw new GatewayError('unauthenticated', 'Sign in first.');
  return auth.user;
}

function presentRevocation(revocation: AccessRevocation): AccessRevoked {
  return { ...revocation, user: presentUser(revocation.user) };
}
