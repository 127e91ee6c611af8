/**
 * The audit entry of one API call (issue #14): who, which action, on what (the call's path,
 * with the new record's id for a create), whether it was done, and what was asked — the body,
 * secrets left out — with the error a refused or failed call got, or the few facts of the
 * answer a reviewer needs (what an offboarding revoked, the state a decision left).
 */
import type { FastifyRequest } from 'fastify';
import { API_PREFIX } from '../../shared/api/apiSchemas.ts';
import type { AuditEvent } from '../audit/auditTrail.ts';
import { GatewayError } from '../gatewayError.ts';
import type { UserRecord } from '../store/identityStore.ts';

/** Body fields that carry secrets: only whether they were given is kept. */
const SECRET_FIELD = /password|passphrase|privatekey|secret|token|ticket/i;

/** Answer fields worth keeping in the log; everything else is in the records themselves. */
const RESULT_FIELDS = [
  'id',
  'state',
  'issuedGrantId',
  'grantsEnded',
  'sessionsEnded',
  'watchesEnded',
  'signInsRevoked',
  // What a user reset reset (its body's `password` flag is redacted as secret-named); the
  // reset's enrollment token is deliberately not listed.
  'reset',
] as const;

export function auditOfCall(
  action: string,
  actor: Pick<UserRecord, 'id' | 'username'>,
  request: Pick<FastifyRequest, 'url' | 'body'>,
  end: { result: unknown } | { error: unknown },
): AuditEvent {
  const path = (request.url.split('?')[0] ?? '').slice(API_PREFIX.length);
  const body =
    request.body === undefined || request.body === null ? undefined : redact(request.body);
  const base = { actor: { id: actor.id, name: actor.username }, action };
  if ('error' in end) {
    const error =
      end.error instanceof GatewayError
        ? { code: end.error.code, message: end.error.message }
        : { code: 'internal', message: 'unexpected error' };
    return {
      ...base,
      target: path,
      outcome: error.code === 'forbidden' ? 'refused' : 'failed',
      details: { ...(body !== undefined && { body }), error },
    };
  }
  const facts = resultFacts(end.result);
  // A create's path names the collection; the entry names the record it made.
  const createdId = typeof facts.id === 'string' && !path.includes(facts.id) ? facts.id : null;
  return {
    ...base,
    target: createdId ? `${path}/${createdId}` : path,
    outcome: 'succeeded',
    details: {
      ...(body !== undefined && { body }),
      ...(Object.keys(facts).length > 0 && { result: facts }),
    },
  };
}

function resultFacts(result: unknown): Record<string, unknown> {
  if (typeof result !== 'object' || result === null) return {};
  const record = result as Record<string, unknown>;
  // `{user: …}` answers (create user, disable, role change) name the user they are about.
  const user = record.user as Record<string, unknown> | undefined;
  const facts: Record<string, unknown> = {};
  for (const field of RESULT_FIELDS) {
    if (record[field] !== undefined) facts[field] = record[field];
  }
  if (facts.id === undefined && typeof user?.id === 'string') facts.id = user.id;
  return facts;
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, field]) => [
      key,
      SECRET_FIELD.test(key) && field !== null && field !== undefined
        ? '[redacted]'
        : redact(field),
    ]),
  );
}
