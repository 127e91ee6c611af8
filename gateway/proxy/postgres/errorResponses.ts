/**
 * The ErrorResponses the gateway itself sends to PostgreSQL clients (CONVENTIONS: "Errors users
 * can act on" — real ErrorResponses with SQLSTATE codes), with the field map that is recorded
 * as the `E` event the client saw.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
import {
  encodeBackend,
  type NoticeFieldMap,
  noticeFieldMap,
} from '../../../shared/postgres/codec.ts';

export const SQLSTATE = {
  /** protocol_violation: malformed, oversized or unexpected messages. */
  protocolViolation: '08P01',
  /** sqlclient_unable_to_establish_sqlconnection: the target could not be reached or logged in to. */
  cannotConnect: '08001',
  /** connection_failure: the target went away. */
  connectionFailure: '08006',
  /** invalid_authorization_specification: refused for a reason other than the password. */
  invalidAuthorization: '28000',
  /** invalid_password: the ticket (the password) is wrong, used or expired. */
  invalidPassword: '28P01',
  /** insufficient_privilege: a guardrail blocked the statement. */
  insufficientPrivilege: '42501',
  /** admin_shutdown: the session ended (expired, terminated, gateway stopping). */
  adminShutdown: '57P01',
  /** feature_not_supported. */
  featureNotSupported: '0A000',
  /** io_error: the recording could not be written. */
  ioError: '58030',
} as const;

export interface GatewayErrorResponse {
  /** The ErrorResponse message, ready to write. */
  readonly bytes: Buffer;
  /** Its fields by code letter, as recorded in an `E` event (FORMAT.md §5). */
  readonly fields: Record<string, string>;
}

export function errorResponse(
  severity: 'ERROR' | 'FATAL',
  code: string,
  message: string,
  hint?: string,
): GatewayErrorResponse {
  const map: NoticeFieldMap = noticeFieldMap({
    severity,
    code,
    message,
    ...(hint !== undefined && { hint }),
  });
  return {
    bytes: encodeBackend({ type: 'ErrorResponse', fields: map }),
    fields: Object.fromEntries(map),
  };
}

/** Text for an ErrorResponse: control characters (a NUL would be unencodable) become spaces. */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping them is the point
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ' ');
}
