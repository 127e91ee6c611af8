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
  | 'setUserRole';

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
  };
}

function signedIn<U>(auth: { user: U } | null): U {
  if (!auth) throw new GatewayError('unauthenticated', 'Sign in first.');
  return auth.user;
}

function presentRevocation(revocation: AccessRevocation): AccessRevoked {
  return { ...revocation, user: presentUser(revocation.user) };
}
