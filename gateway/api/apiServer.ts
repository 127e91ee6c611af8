import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { API_PREFIX, MAX_REQUEST_BODY_BYTES } from '../../shared/api/apiSchemas.ts';
import { GatewayError } from '../gatewayError.ts';
import type { Logger } from '../logger.ts';
import { StoreConflictError } from '../store/storeConflictError.ts';
import { type ApiServices, registerRoutes } from './routes.ts';

const QUIET_ROUTES = new Set([`${API_PREFIX}/healthz`, `${API_PREFIX}/readyz`]);

export interface ApiListenOptions {
  host: string;
  port: number;
  /** Server certificate chain (leaf then CA) and key, PEM. */
  certChainPem: string;
  keyPem: string;
}

export interface RunningApi {
  url: string;
  port: number;
  close(): Promise<void>;
}

/**
 * The HTTPS API. Every failure leaves as `{code, message}` with a status a client can act on;
 * unexpected errors are logged with the request id and answered with a generic 500, so
 * internals (and anything secret they might hold) never reach the caller.
 */
export async function startApiServer(
  services: ApiServices,
  options: ApiListenOptions,
  log: Logger,
): Promise<RunningApi> {
  const app: FastifyInstance = Fastify({
    https: { key: options.keyPem, cert: options.certChainPem, minVersion: 'TLSv1.2' },
    bodyLimit: MAX_REQUEST_BODY_BYTES,
    // Our own access log below: fastify's would include full URLs and is noisier than needed.
    logger: false,
    // A client that stalls mid-request must not hold a connection forever.
    requestTimeout: 30_000,
    return503OnClosing: true,
  });

  app.addHook('onResponse', async (request, reply) => {
    // A load balancer checks these several times a second (issue #17): not worth a log line.
    if (QUIET_ROUTES.has(request.routeOptions.url ?? '')) return;
    log.info('api request', {
      method: request.method,
      // The route pattern, not the raw URL: ids are fine, but query strings are not logged.
      route: request.routeOptions.url ?? 'unmatched',
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime),
      requestId: request.id,
    });
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send(
        new GatewayError(
          'not_found',
          `There is no API route ${request.method} ${request.url.split('?')[0]}.`,
        ).toBody(),
      );
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const known = toGatewayError(error);
    if (known) return reply.code(known.status).send(known.toBody());
    log.error('api request failed', { requestId: request.id, error: describeError(error) });
    return reply
      .code(500)
      .send(
        new GatewayError(
          'internal',
          `The gateway hit an unexpected error (request ${request.id}); it has been logged.`,
        ).toBody(),
      );
  });

  registerRoutes(app, services);
  await app.listen({ host: options.host, port: options.port });
  const address = app.server.address();
  if (!address || typeof address === 'string')
    throw new Error('API server did not bind a TCP port');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `https://${host}:${address.port}`,
    port: address.port,
    close: () => app.close(),
  };
}

/** Maps errors raised by fastify's body handling and by our code onto API errors. */
function toGatewayError(error: FastifyError | Error): GatewayError | undefined {
  if (error instanceof GatewayError) return error;
  const code = 'code' in error ? error.code : undefined;
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new GatewayError(
        'payload_too_large',
        `The request body is larger than ${MAX_REQUEST_BODY_BYTES / 1024} KiB.`,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new GatewayError(
        'unsupported_media_type',
        'Send the request body as application/json.',
      );
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new GatewayError('bad_request', 'The request body is empty; send a JSON object.');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new GatewayError('bad_request', 'The request body is not valid JSON.');
  }
  if (error instanceof SyntaxError && 'statusCode' in error && error.statusCode === 400) {
    return new GatewayError('bad_request', 'The request body is not valid JSON.');
  }
  if ('statusCode' in error && error.statusCode === 400 && code?.startsWith('FST_')) {
    return new GatewayError(
      'bad_request',
      'The request could not be read — check the body and headers.',
    );
  }
  // A unique constraint lost a race the services' own checks could not see (two replicas
  // creating the same name at once).
  if (error instanceof StoreConflictError) {
    return new GatewayError(
      'conflict',
      `That ${error.conflict.split('.').pop()} is already taken — pick another.`,
    );
  }
  // Anything else — including a ZodError from response validation, which means a bug on our
  // side, not bad input (request validation raises GatewayError) — is a 500.
  return undefined;
}

function describeError(error: unknown): string {
  return error instanceof Error
    ? `${error.name}: ${error.message}\n${error.stack ?? ''}`
    : String(error);
}
