/**
 * Sign-in through the gateway's identity provider in the system browser, for a native client
 * (RFC 8252): a listener on 127.0.0.1 and a random port receives the redirect; `state` and a
 * PKCE verifier (RFC 7636, S256) that never leave this process tie the answer to this
 * sign-in, so a code another local program catches on the port is worth nothing to it.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TokenPair } from '../../shared/api/apiSchemas.ts';
import { API_PREFIX } from '../../shared/api/apiSchemas.ts';
import { routePath, routeSpec } from '../../shared/api/routeTable.ts';

export interface BrowserSignInOptions {
  /** The gateway's base URL (no `/v1`). */
  gatewayUrl: string;
  /** The provider's short name at the gateway. */
  provider: string;
  /** Shows the sign-in URL to the person (opens a browser, prints it, or both). */
  openUrl: (url: string) => void | Promise<void>;
  /** Exchanges the one-time code at the gateway (`POST /v1/oidc/token`). */
  exchange: (request: {
    code: string;
    codeVerifier: string;
    redirectUri: string;
  }) => Promise<TokenPair>;
  /** How long to wait for the browser; default 5 minutes. */
  timeoutMs?: number;
  /** Ends the wait early (the person cancelled in the desktop): rejects with `BrowserSignInError`. */
  signal?: AbortSignal;
}

export class BrowserSignInError extends Error {
  override readonly name: string = 'BrowserSignInError';
}

/** The wait was ended through `signal`: nothing went wrong, the person changed their mind. */
export class BrowserSignInCancelledError extends BrowserSignInError {
  override readonly name = 'BrowserSignInCancelledError';
}

const CALLBACK_PATH = '/callback';

export async function signInThroughBrowser(options: BrowserSignInOptions): Promise<TokenPair> {
  const state = randomBytes(24).toString('base64url');
  const codeVerifier = randomBytes(32).toString('base64url');
  const codeChallenge = createHash('sha256').update(codeVerifier).digest('base64url');
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const redirectUri = `http://127.0.0.1:${(server.address() as AddressInfo).port}${CALLBACK_PATH}`;
  const startUrl = new URL(
    `${API_PREFIX}${routePath(
      routeSpec('startOidcSignIn'),
      { provider: options.provider },
      {
        redirect_uri: redirectUri,
        state,
        code_challenge: codeChallenge,
        code_challenge_method: 'S256',
      },
    )}`,
    options.gatewayUrl,
  ).href;
  try {
    const answer = waitForAnswer(server, state, codeVerifier, redirectUri, options);
    await options.openUrl(startUrl);
    return await answer;
  } finally {
    server.closeAllConnections();
    server.close();
  }
}

function waitForAnswer(
  server: http.Server,
  state: string,
  codeVerifier: string,
  redirectUri: string,
  options: BrowserSignInOptions,
): Promise<TokenPair> {
  return new Promise<TokenPair>((resolve, reject) => {
    const timeoutMs = options.timeoutMs ?? 5 * 60_000;
    const timer = setTimeout(
      () =>
        reject(
          new BrowserSignInError(
            `No answer from the browser within ${Math.round(timeoutMs / 1000)} s — run the sign-in again.`,
          ),
        ),
      timeoutMs,
    );
    let settled = false;
    const signal = options.signal;
    const cancelled = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new BrowserSignInCancelledError('The sign-in was cancelled.'));
    };
    if (signal?.aborted) cancelled();
    signal?.addEventListener('abort', cancelled, { once: true });
    server.on('request', (request, response) => {
      const url = new URL(request.url ?? '/', redirectUri);
      if (url.pathname !== CALLBACK_PATH || settled) {
        response.writeHead(404).end();
        return;
      }
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancelled);
      const finish = (status: number, message: string, outcome: () => void) => {
        response
          .writeHead(status, {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-store',
          })
          .end(page(message));
        outcome();
      };
      const params = url.searchParams;
      if (params.get('state') !== state) {
        const error = new BrowserSignInError(
          'The answer in the browser does not belong to this sign-in (its state differs) — run the sign-in again.',
        );
        finish(400, error.message, () => reject(error));
        return;
      }
      const refusal = params.get('error');
      const code = params.get('code');
      if (refusal || !code) {
        const error = new BrowserSignInError(
          params.get('error_description') ?? `The sign-in was refused (${refusal ?? 'no code'}).`,
        );
        finish(400, error.message, () => reject(error));
        return;
      }
      options.exchange({ code, codeVerifier, redirectUri }).then(
        (pair) =>
          finish(
            200,
            `Signed in to Witness as ${pair.user.username}. You can close this window.`,
            () => resolve(pair),
          ),
        (error: unknown) =>
          finish(400, error instanceof Error ? error.message : String(error), () => reject(error)),
      );
    });
  });
}

function page(message: string): string {
  const escaped = message.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!doctype html><meta charset="utf-8"><title>Witness</title><p>${escaped}</p>\n`;
}
