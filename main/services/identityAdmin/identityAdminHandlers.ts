/**
 * The settings panel's identity providers and machine identities (issue #18), over the gateway
 * client: one gateway call each, answers narrowed field by field to the contract's rows (no
 * ids, no timestamps the pages do not show). Every rule stays the gateway's: admins only, the
 * issuer's discovery, standard claims refused as a machine's bindings.
 */
import type { MachineIdentity } from '../../../shared/api/machineSchemas.ts';
import type { OidcProvider } from '../../../shared/api/oidcSchemas.ts';
import type { CallHandlers } from '../../ipc/contract.ts';
import type { RunAsUser } from '../adminSettings.ts';

type IdentityAdminCallName =
  | 'admin.identityProviders.list'
  | 'admin.identityProviders.save'
  | 'admin.identityProviders.delete'
  | 'admin.machineIdentities.list'
  | 'admin.machineIdentities.create'
  | 'admin.machineIdentities.delete';

export function createIdentityAdminHandlers(
  run: RunAsUser,
): Pick<CallHandlers, IdentityAdminCallName> {
  return {
    'admin.identityProviders.list': async () => ({
      providers: (await run((client) => client.listOidcProviders())).map(toProviderRow),
    }),
    'admin.identityProviders.save': async ({ create, name, clientSecret, ...settings }) =>
      toProviderRow(
        await run((client) => {
          if (create) {
            return client.createOidcProvider({
              name,
              ...settings,
              // The API requires it to add; the contract leaves it optional for edits only.
              clientSecret: clientSecret ?? '',
            });
          }
          return client.updateOidcProvider(name, {
            ...settings,
            ...(clientSecret !== undefined ? { clientSecret } : {}),
          });
        }),
      ),
    'admin.identityProviders.delete': async ({ name }) => {
      await run((client) => client.deleteOidcProvider(name));
      return {};
    },
    'admin.machineIdentities.list': async () => ({
      identities: (await run((client) => client.listMachineIdentities())).map(toMachineRow),
    }),
    'admin.machineIdentities.create': async (request) =>
      toMachineRow(await run((client) => client.createMachineIdentity(request))),
    'admin.machineIdentities.delete': async ({ name }) => {
      await run((client) => client.deleteMachineIdentity(name));
      return {};
    },
  };
}

function toProviderRow(provider: OidcProvider) {
  return {
    name: provider.name,
    displayName: provider.displayName,
    issuer: provider.issuer,
    clientId: provider.clientId,
    scopes: provider.scopes,
    groupsClaim: provider.groupsClaim,
    redirectUri: provider.redirectUri,
  };
}

function toMachineRow(identity: MachineIdentity) {
  return {
    name: identity.name,
    issuer: identity.issuer,
    audience: identity.audience,
    claims: identity.claims,
    createdAt: identity.createdAt,
  };
}
