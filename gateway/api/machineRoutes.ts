import type { MachineIdentity } from '../../shared/api/machineSchemas.ts';
import type { MachineIdentities } from '../machines/machineIdentities.ts';
import type { MachineIdentityRecord } from '../store/machineIdentityStore.ts';
import type { HandlersFor } from './apiRoute.ts';
import { iso, presentUser } from './presenters.ts';

/** The routes this module serves (issue #18). */
export type MachineRouteName =
  | 'exchangeIdToken'
  | 'listMachineIdentities'
  | 'createMachineIdentity'
  | 'deleteMachineIdentity';

/** Machine identities: the CI token exchange, and admins' identities. */
export function machineHandlers(machines: MachineIdentities): HandlersFor<MachineRouteName> {
  return {
    exchangeIdToken: async ({ body }) => {
      const signIn = await machines.exchange(body.idToken);
      return {
        accessToken: signIn.accessToken,
        accessExpiresAt: iso(signIn.accessExpiresAt),
        user: presentUser(signIn.user),
        machine: { name: signIn.identity.name, claims: signIn.claims },
      };
    },
    listMachineIdentities: async () => ({
      identities: (await machines.list()).map(presentMachineIdentity),
    }),
    createMachineIdentity: async ({ body }) =>
      presentMachineIdentity(await machines.register(body)),
    deleteMachineIdentity: async ({ params }) => {
      await machines.remove(params.name);
      return undefined;
    },
  };
}

function presentMachineIdentity(identity: MachineIdentityRecord): MachineIdentity {
  return {
    id: identity.id,
    name: identity.name,
    userId: identity.userId,
    issuer: identity.issuer,
    audience: identity.audience,
    claims: identity.claims,
    createdAt: iso(identity.createdAt),
  };
}
