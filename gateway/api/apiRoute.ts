import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { API_PREFIX } from '../../shared/api/apiSchemas.ts';
import {
  type ApiRoutes,
  auditedAction,
  type RouteBody,
  type RouteName,
  type RouteParams,
  type RouteQuery,
  type RouteResult,
  type RouteSpec,
  routeNames,
  routeSpec,
} from '../../shared/api/routeTable.ts';
import type { AuditRecorder } from '../audit/auditTrail.ts';
import type { Authenticated, AuthService } from '../auth/authService.ts';
import { GatewayError } from '../gatewayError.ts';
import { auditOfCall } from './auditOfCall.ts';

export type { RouteAccess } from '../../shared/api/routeTable.ts';

/** What a handler receives: its input parsed with the entry's schemas, and who called. */
export type RouteContext<N extends RouteName> = {
  params: RouteParams<N>;
  query: RouteQuery<N>;
  body: RouteBody<N>;
  /** Null only on public routes: every other route authenticates before its handler runs. */
  auth: ApiRoutes[N]['access'] extends 'public' ? null : Authenticated;
  clientAddress: string;
} & (ApiRoutes[N]['response'] extends 'stream'
  ? // A stream handler sends the body itself (its content type, headers and a Readable).
    { request: FastifyRequest; reply: FastifyReply }
  : unknown);

/** A handler returns the plain answer (validated and stripped by the entry's schema). */
export type RouteHandler<N extends RouteName> = (
  ctx: RouteContext<N>,
) => Promise<ApiRoutes[N]['response'] extends 'stream' ? unknown : RouteResult<N>>;

/** One handler per route of the table: a route without one does not compile. */
export type ApiHandlers = { [N in RouteName]: RouteHandler<N> };
/** Handlers for some routes, for modules that serve one part of the API. */
export type HandlersFor<N extends RouteName> = { [K in N]: RouteHandler<K> };

/**
 * Registers every route of the table with its handler, and the checks every route needs, in
 * order: authentication, role, params, query and body validation, response validation; and
 * for every audited route (`auditedAction`: admin actions, requests and decisions) one audit
 * entry per signed-in call, refused or not, written before the answer leaves (issue #14).
 * Throws (the gateway does not start) when a route has no handler or a handler no route.
 */
export function registerApi(
  app: FastifyInstance,
  auth: AuthService,
  handlers: ApiHandlers,
  audit: AuditRecorder,
): void {
  const missing = routeNames.filter((name) => typeof handlers[name] !== 'function');
  const unknown = Object.keys(handlers).filter((name) => !(routeNames as string[]).includes(name));
  if (missing.length > 0 || unknown.length > 0) {
    throw new Error(
      `The API handlers do not match the route table (shared/api/routeTable.ts): ` +
        `${missing.length > 0 ? `no handler for ${missing.join(', ')}` : ''}` +
        `${missing.length > 0 && unknown.length > 0 ? '; ' : ''}` +
        `${unknown.length > 0 ? `no route named ${unknown.join(', ')}` : ''}.`,
    );
  }
  for (const name of routeNames) {
    const spec = routeSpec(name);
    addRoute(app, auth, spec, handlers[name] as LooseHandler, auditedAction(name, spec), audit);
  }
}

type LooseHandler = (ctx: Record<string, unknown>) => Promise<unknown>;

function addRoute(
  app: FastifyInstance,
  auth: AuthService,
  spec: RouteSpec,
  handler: LooseHandler,
  action: string | null,
  audit: AuditRecorder,
): void {
  app.route({
    method: spec.method,
    url: `${API_PREFIX}${spec.path}`,
    handler: async (request: FastifyRequest, reply: FastifyReply) => {
      const authenticated =
        spec.access === 'public' ? null : await auth.authenticate(bearerToken(request));
      // Only calls by someone signed in are audited: an anonymous call is refused before it
      // names anyone, and would let anyone fill the log.
      const audited = action !== null && authenticated !== null;
      let result: unknown;
      try {
        if (
          authenticated &&
          Array.isArray(spec.access) &&
          !spec.access.includes(authenticated.user.role)
        ) {
          throw new GatewayError(
            'forbidden',
            `This needs the ${spec.access.join(' or ')} role; you are signed in as ${authenticated.user.role}.`,
          );
        }
        const params = spec.params ? parseParams(spec.params, request.params ?? {}) : {};
        const query = spec.query ? parseInput(spec.query, request.query ?? {}, 'query') : undefined;
        const body = spec.body ? parseInput(spec.body, request.body ?? {}, 'body') : undefined;
        const context = {
          params,
          query,
          body,
          auth: authenticated,
          clientAddress: request.ip,
        };
        result = await handler(
          spec.response === 'stream' ? { ...context, request, reply } : context,
        );
      } catch (error) {
        if (audited)
          await audit.record(auditOfCall(action, authenticated.user, request, { error }));
        throw error;
      }
      if (audited) await audit.record(auditOfCall(action, authenticated.user, request, { result }));
      if (spec.response === 'stream') return result;
      if (spec.response === 'empty') return reply.code(spec.status ?? 204).send();
      return reply.code(spec.status ?? 200).send(spec.response.parse(result));
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

function parseInput(schema: z.ZodType, value: unknown, where: 'body' | 'query'): unknown {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw validationError(result.error, where);
}

/** A bad path parameter names the parameter, as a person would read the URL. */
function parseParams(schema: z.ZodType, value: unknown): unknown {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const names = [...new Set(result.error.issues.map((issue) => issue.path.map(String).join('.')))];
  throw new GatewayError('bad_request', `The ${names.join(' and ')} in the URL is not valid.`, {
    issues: result.error.issues.map((issue) => ({
      path: issue.path.map(String).join('.') || 'params',
      message: issue.message,
    })),
  });
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
