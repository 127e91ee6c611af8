import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { Role } from '../../shared/api/apiSchemas.ts';
import type { Authenticated, AuthService } from '../auth/authService.ts';
import { GatewayError } from '../gatewayError.ts';

/** Who may call a route: anyone, any signed-in user, or signed-in users with one of the roles. */
export type RouteAccess = 'public' | 'signed-in' | readonly Role[];

export interface RouteContext<Body, Query> {
  body: Body;
  query: Query;
  params: Record<string, string>;
  auth: Authenticated | null;
  clientAddress: string;
}

export interface RouteDefinition<Body, Query, Response> {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  access: RouteAccess;
  body?: z.ZodType<Body>;
  query?: z.ZodType<Query>;
  /** Validates (and strips unknown fields from) what the handler returns; omit for 204. */
  response?: z.ZodType<Response>;
  status?: number;
  handler: (ctx: RouteContext<Body, Query>) => Promise<Response>;
}

/**
 * Registers one route with the checks every route needs, in order: authentication, role,
 * request validation, response validation. Handlers receive parsed input and return plain
 * objects; errors they throw become `{code, message}` in the API's error handler.
 */
export function addRoute<Body = undefined, Query = undefined, Response = undefined>(
  app: FastifyInstance,
  auth: AuthService,
  route: RouteDefinition<Body, Query, Response>,
): void {
  app.route({
    method: route.method,
    url: route.url,
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const authenticated =
        route.access === 'public' ? null : await auth.authenticate(bearerToken(request));
      if (
        authenticated &&
        Array.isArray(route.access) &&
        !route.access.includes(authenticated.user.role)
      ) {
        throw new GatewayError(
          'forbidden',
          `This needs the ${route.access.join(' or ')} role; you are signed in as ${authenticated.user.role}.`,
        );
      }
      const body = route.body
        ? parseInput(route.body, request.body ?? {}, 'body')
        : (undefined as Body);
      const query = route.query
        ? parseInput(route.query, request.query ?? {}, 'query')
        : (undefined as Query);
      const result = await route.handler({
        body,
        query,
        params: request.params as Record<string, string>,
        auth: authenticated,
        clientAddress: request.ip,
      });
      if (!route.response) return reply.code(route.status ?? 204).send();
      return reply.code(route.status ?? 200).send(route.response.parse(result));
    },
  });
}

function bearerToken(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (!header) return undefined;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match)
    throw new GatewayError(
      'unauthenticated',
      'The Authorization header must be `Bearer <access token>`.',
    );
  return match[1];
}

function parseInput<T>(schema: z.ZodType<T>, value: unknown, where: 'body' | 'query'): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw validationError(result.error, where);
}

export function validationError(error: z.ZodError, where: string): GatewayError {
  const issues = error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || where,
    message: issue.message,
  }));
  const summary = issues
    .slice(0, 3)
    .map((i) => `${i.path}: ${i.message}`)
    .join('; ');
  return new GatewayError('bad_request', `The request ${where} is not valid — ${summary}.`, {
    issues,
  });
}
