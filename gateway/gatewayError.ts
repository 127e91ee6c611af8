import type { ApiErrorBody, ApiErrorCode } from '../shared/api/apiSchemas.ts';

/**
 * An error a person can act on. Thrown by the gateway's domain code (auth, policy, sessions);
 * the API turns it into `{code, message}` with the status below, and the SSH/PostgreSQL
 * listeners into a disconnect reason or an ErrorResponse. The message is shown to the user as
 * is, so it must say what happened and what to do — and never contain a secret.
 */
export class GatewayError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
    readonly details: Pick<ApiErrorBody, 'issues' | 'retryAfter'> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }

  get status(): number {
    return HTTP_STATUS[this.code];
  }

  toBody(): ApiErrorBody {
    return { code: this.code, message: this.message, ...this.details };
  }
}

const HTTP_STATUS: Record<ApiErrorCode, number> = {
  bad_request: 400,
  unsupported_media_type: 415,
  payload_too_large: 413,
  unauthenticated: 401,
  token_expired: 401,
  invalid_credentials: 401,
  totp_required: 401,
  account_locked: 429,
  rate_limited: 429,
  forbidden: 403,
  not_found: 404,
  recording_missing: 410,
  conflict: 409,
  no_active_grant: 403,
  access_request_required: 403,
  internal: 500,
  unavailable: 503,
};
