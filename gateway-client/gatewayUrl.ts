/**
 * One spelling per gateway: pins, profiles and keychain accounts are keyed by the URL, so
 * `HTTPS://GW:443/` and `https://gw` must come out the same.
 */

/** Thrown for a gateway URL the client cannot use; the message says what is wrong with it. */
export class InvalidGatewayUrlError extends Error {
  override readonly name = 'InvalidGatewayUrlError';
}

/**
 * Returns the canonical form `https://host[:port][/base]` (no trailing slash). A bare
 * `host:port` is taken to mean https. Only https is accepted: the client pins the gateway's CA,
 * and a plain-http gateway would send tokens in the clear.
 */
export function normalizeGatewayUrl(input: string): string {
  const trimmed = input.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new InvalidGatewayUrlError(
      `'${input}' is not a gateway URL — expected something like https://gateway.example.com:8443`,
    );
  }
  if (url.protocol !== 'https:') {
    throw new InvalidGatewayUrlError(
      `the gateway URL must use https (got ${url.protocol.replace(/:$/, '')}): ${input}`,
    );
  }
  if (url.username || url.password) {
    throw new InvalidGatewayUrlError(`the gateway URL must not contain a user name or password`);
  }
  if (url.search || url.hash) {
    throw new InvalidGatewayUrlError(`the gateway URL must not have a query or fragment: ${input}`);
  }
  const path = url.pathname.replace(/\/+$/, '');
  return `${url.protocol}//${url.host}${path}`;
}
