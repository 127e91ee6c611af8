import type { OidcProviderBook } from '../oidc/oidcProviderBook.ts';
import type { OidcSignIn } from '../oidc/oidcSignIn.ts';
import type { HandlersFor } from './apiRoute.ts';
import { presentTokens } from './presenters.ts';

/** The routes this module serves (issue #18). */
export type OidcRouteName =
  | 'listOidcSignInOptions'
  | 'startOidcSignIn'
  | 'oidcCallback'
  | 'exchangeOidcCode'
  | 'listOidcProviders'
  | 'createOidcProvider'
  | 'updateOidcProvider'
  | 'deleteOidcProvider';

export interface OidcRouteServices {
  oidcSignIn: OidcSignIn;
  oidcProviders: OidcProviderBook;
}

/** Sign-in through identity providers, and admins' providers. */
export function oidcHandlers(services: OidcRouteServices): HandlersFor<OidcRouteName> {
  const { oidcSignIn, oidcProviders } = services;
  return {
    listOidcSignInOptions: () => oidcProviders.signInOptions(),
    startOidcSignIn: async ({ params, query, reply }) => {
      const location = await oidcSignIn.start(params.provider, query);
      // 303 so a browser always follows with GET; no-store: the URL carries a one-time state.
      return reply.header('cache-control', 'no-store').redirect(location, 303);
    },
    oidcCallback: async ({ query, request, reply }) => {
      const at = request.url.indexOf('?');
      const location = await oidcSignIn.callback(query, at < 0 ? '' : request.url.slice(at));
      return reply.header('cache-control', 'no-store').redirect(location, 303);
    },
    exchangeOidcCode: async ({ body }) => presentTokens(await oidcSignIn.exchange(body)),
    listOidcProviders: async () => ({ providers: await oidcProviders.list() }),
    createOidcProvider: ({ body }) => oidcProviders.create(body),
    updateOidcProvider: ({ params, body }) => oidcProviders.update(params.provider, body),
    deleteOidcProvider: async ({ params }) => {
      await oidcProviders.remove(params.provider);
      return undefined;
    },
  };
}
