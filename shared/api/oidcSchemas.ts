/**
 * Wire schemas of OpenID Connect sign-in (issue #18): the providers admins configure, the
 * loopback flow a client starts (RFC 8252) and the one-time code it exchanges for the usual
 * access and refresh tokens.
 */
import { z } from 'zod';

const isoTime = z.iso.datetime({ offset: true });

/** A provider's short name: in URLs (`/v1/oidc/okta/start`) and on the command line. */
export const oidcProviderNameSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'provider names are lower-case letters, digits and -');

/** A claim name (`groups`, `roles`, `cognito:groups`, a URL-shaped custom claim). */
const claimNameSchema = z.string().min(1).max(256);
const scopeSchema = z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/, 'one scope, no spaces');

/**
 * The issuer as the provider's discovery document names it. HTTPS, except on a loopback host
 * (a provider running beside the gateway in tests and development).
 */
export const issuerUrlSchema = z
  .url()
  .max(2048)
  .refine(
    (value) => {
      const url = new URL(value);
      return url.protocol === 'https:' || isLoopbackHost(url.hostname);
    },
    { message: 'the issuer must be an https:// URL (http:// only on 127.0.0.1 or localhost)' },
  );

export function isLoopbackHost(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === '[::1]' || hostname === 'localhost';
}

export const DEFAULT_OIDC_SCOPES = ['openid', 'profile', 'email', 'offline_access'];

/** A provider as admins see it: never the client secret. */
export const oidcProviderSchema = z.object({
  id: z.string(),
  name: oidcProviderNameSchema,
  displayName: z.string(),
  issuer: z.string(),
  clientId: z.string(),
  scopes: z.array(z.string()),
  groupsClaim: z.string(),
  /** The redirect URI to register at the provider (the gateway's callback). */
  redirectUri: z.string(),
  createdAt: isoTime,
  updatedAt: isoTime,
});
export type OidcProvider = z.infer<typeof oidcProviderSchema>;
export const oidcProviderListSchema = z.object({ providers: z.array(oidcProviderSchema) });

export const createOidcProviderRequestSchema = z.strictObject({
  name: oidcProviderNameSchema,
  displayName: z.string().min(1).max(64).optional(),
  issuer: issuerUrlSchema,
  clientId: z.string().min(1).max(512),
  clientSecret: z.string().min(1).max(4096),
  scopes: z.array(scopeSchema).min(1).max(32).default(DEFAULT_OIDC_SCOPES),
  groupsClaim: claimNameSchema.default('groups'),
});
export type CreateOidcProviderRequest = z.input<typeof createOidcProviderRequestSchema>;

export const updateOidcProviderRequestSchema = z.strictObject({
  displayName: z.string().min(1).max(64).optional(),
  issuer: issuerUrlSchema.optional(),
  clientId: z.string().min(1).max(512).optional(),
  clientSecret: z.string().min(1).max(4096).optional(),
  scopes: z.array(scopeSchema).min(1).max(32).optional(),
  groupsClaim: claimNameSchema.optional(),
});

/** What the sign-in screen needs to draw its "Sign in with <provider>" buttons. */
export const oidcSignInOptionsSchema = z.object({
  providers: z.array(z.object({ name: oidcProviderNameSchema, displayName: z.string() })),
});

export const oidcProviderParams = z.strictObject({ provider: oidcProviderNameSchema });

/**
 * A loopback redirect URI (RFC 8252 §7.3): http, the IPv4 loopback literal, an explicit port
 * and a path; nothing else may receive a sign-in code.
 */
export const loopbackRedirectUriSchema = z
  .string()
  .max(512)
  .refine(
    (value) => {
      if (!URL.canParse(value)) return false;
      const url = new URL(value);
      return (
        url.protocol === 'http:' &&
        url.hostname === '127.0.0.1' &&
        url.port !== '' &&
        url.username === '' &&
        url.password === '' &&
        url.search === '' &&
        url.hash === ''
      );
    },
    {
      message:
        'redirect_uri must be a loopback address like http://127.0.0.1:PORT/callback (RFC 8252)',
    },
  );

const pkceValueSchema = z.string().regex(/^[A-Za-z0-9._~-]{43,128}$/);

/** `GET /v1/oidc/:provider/start`: the client's loopback listener, its state and PKCE (S256). */
export const oidcStartQuerySchema = z.object({
  redirect_uri: loopbackRedirectUriSchema,
  state: z.string().regex(/^[A-Za-z0-9._~-]{16,256}$/, 'state: 16 or more URL-safe characters'),
  code_challenge: pkceValueSchema.optional(),
  code_challenge_method: z.string().optional(),
});

/** The provider's answer at the gateway's callback (extra parameters are the provider's own). */
export const oidcCallbackQuerySchema = z.looseObject({
  state: z.string().max(512).optional(),
  code: z.string().max(4096).optional(),
  error: z.string().max(256).optional(),
  error_description: z.string().max(2048).optional(),
});

/** `POST /v1/oidc/token`: the one-time code from the loopback redirect, and the PKCE verifier. */
export const oidcTokenRequestSchema = z.strictObject({
  code: z.string().min(1).max(256),
  codeVerifier: z.string().min(1).max(256),
  redirectUri: z.string().min(1).max(512),
});
