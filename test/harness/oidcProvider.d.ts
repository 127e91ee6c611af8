/**
 * The few parts of `oidc-provider` (v9, no bundled types, no @types package for it) that the
 * test provider (oidcProviderForTests.ts) uses.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  interface Account {
    accountId: string;
    claims(): Record<string, unknown> | Promise<Record<string, unknown>>;
  }

  interface GrantSuccessContext {
    oidc: {
      params?: { grant_type?: unknown };
      session?: { accountId?: string };
      entities: { Grant?: { jti: string } };
    };
  }

  interface Configuration {
    clients: Record<string, unknown>[];
    cookies?: { keys: string[] };
    claims?: Record<string, string[]>;
    conformIdTokenClaims?: boolean;
    pkce?: { required: () => boolean };
    ttl?: Record<string, number>;
    findAccount: (ctx: unknown, sub: string) => Account | undefined | Promise<Account | undefined>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Configuration);
    callback(): (request: IncomingMessage, response: ServerResponse) => void;
    on(event: 'grant.success' | 'grant.error', listener: (ctx: GrantSuccessContext) => void): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    Grant: { find(id: string): Promise<{ destroy(): Promise<void> } | undefined> };
  }
}
