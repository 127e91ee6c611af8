/**
 * A client's login on the gateway's PostgreSQL listener (DESIGN.md "Launch a session"): the
 * session id is the user name and the single-use ticket the password.
 *
 *     SSLRequest     → 'S', TLS with the gateway certificate (required by default)
 *     GSSENCRequest  → 'N' (no GSSAPI encryption)
 *     CancelRequest  → handed to the listener (mapped to the target's key there)
 *     StartupMessage → SCRAM-SHA-256 when this gateway issued the ticket (scramTickets.ts),
 *                      else the cleartext password — over TLS only — then the ticket is redeemed;
 *                      or, when the user is not a session id and the client presented a
 *                      database certificate (`witness db login`, issue #15), no password: the
 *                      certificate names user and resource and access is decided now
 *
 * Every refusal is a FATAL ErrorResponse with a SQLSTATE and a sentence the person can act on;
 * then the connection closes. Nothing here touches another connection.
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
import type { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { type SecureContext, TLSSocket } from 'node:tls';
import {
  type AuthenticationResponse,
  encodeBackend,
  type Frame,
  MessageReader,
  ProtocolError,
  parsePasswordMessage,
  parseSASLInitialResponse,
  type StartupPacket,
} from '../../../shared/postgres/codec.ts';
import { GatewayError } from '../../gatewayError.ts';
import type { Logger } from '../../logger.ts';
import type { SessionService } from '../../sessions/sessionService.ts';
import { judgeClientCertificate } from './clientCertificate.ts';
import { errorResponse, printable, SQLSTATE } from './errorResponses.ts';
import { HandshakeFrames, PeerClosedError } from './handshakeFrames.ts';
import { SCRAM_SHA_256, ScramError, ScramServer } from './scram.ts';
import type { ScramTicketCache } from './scramTickets.ts';

export type ClientAuthMethod = 'scram-sha-256' | 'password';

export interface ClientLoginOptions {
  secureContext: SecureContext;
  /**
   * The CA of database client certificates: when set, TLS clients are asked for a certificate,
   * and one it issued logs in without a ticket (issue #15).
   */
  clientCa: X509Certificate | undefined;
  sessions: Pick<SessionService, 'redeemTicket' | 'terminate' | 'openCertificateSession'>;
  log: Logger;
  /** Default 'scram-sha-256' (for tickets in `scramTickets`; cleartext otherwise). */
  clientAuth: ClientAuthMethod;
  scramTickets: ScramTicketCache | undefined;
  /** Refuse a StartupMessage that did not come over TLS (default true). */
  requireTls: boolean;
  /** From TCP connect to a redeemed ticket. */
  loginTimeoutMs: number;
  maxClientMessageBytes: number | undefined;
}

export type Redeemed = Awaited<ReturnType<SessionService['redeemTicket']>>;

export type LoginOutcome =
  | {
      kind: 'session';
      socket: Socket | TLSSocket;
      reader: MessageReader<'frontend'>;
      pending: Frame[];
      parameters: Map<string, string>;
      redeemed: Redeemed;
      tls: boolean;
    }
  | { kind: 'cancel'; processId: number; secretKey: Buffer }
  /** Refused (the client was told) or gone. */
  | { kind: 'closed' };

/** A refusal to send as a FATAL ErrorResponse. */
class LoginRefusal extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

const SESSION_ID_PATTERN = /^ses_[a-z2-7]{1,64}$/;
const MAX_TICKET_LENGTH = 256;
/**
 * Startup parameters passed on to the target: presentation settings a client may choose.
 * Everything else (options, replication, client_encoding, …) stays with the gateway.
 */
const FORWARDED_PARAMETERS = new Set([
  'application_name',
  'datestyle',
  'intervalstyle',
  'timezone',
  'extra_float_digits',
  'search_path',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
]);
const S = Buffer.from('S');
const N = Buffer.from('N');

export async function loginClient(
  socket: Socket,
  options: ClientLoginOptions,
): Promise<LoginOutcome> {
  const reader = new MessageReader('frontend', {
    ...(options.maxClientMessageBytes !== undefined && {
      maxMessageBytes: options.maxClientMessageBytes,
    }),
  });
  const frames = new HandshakeFrames(reader, socket, 'client');
  let current: Socket | TLSSocket = socket;
  let tls = false;
  let sessionId: string | undefined;
  const timer = setTimeout(
    () =>
      frames.abort(
        new LoginRefusal(
          SQLSTATE.protocolViolation,
          `The login did not complete within ${options.loginTimeoutMs / 1000} s`,
        ),
      ),
    options.loginTimeoutMs,
  );
  timer.unref();

  try {
    let startup: Extract<StartupPacket, { type: 'StartupMessage' }> | undefined;
    while (startup === undefined) {
      const packet = reader.decode(await frames.next()) as StartupPacket;
      switch (packet.type) {
        case 'SSLRequest':
          if (tls) throw new LoginRefusal(SQLSTATE.protocolViolation, 'SSLRequest sent twice');
          // Bytes after the SSLRequest came unencrypted; they must not be read as if they
          // came over TLS (CVE-2021-23214).
          if (reader.bufferedBytes > 0) {
            throw new LoginRefusal(
              SQLSTATE.protocolViolation,
              'The client sent data after its SSLRequest before TLS was set up',
            );
          }
          frames.detach();
          socket.write(S);
          current = await acceptTls(socket, options.secureContext, options.clientCa !== undefined);
          frames.attach(current);
          tls = true;
          frames.expectStartup();
          break;
        case 'GSSENCRequest':
          current.write(N);
          frames.expectStartup();
          break;
        case 'CancelRequest':
          clearTimeout(timer);
          frames.detach();
          current.end();
          return { kind: 'cancel', processId: packet.processId, secretKey: packet.secretKey };
        case 'StartupMessage':
          startup = packet;
          break;
      }
    }

    if (!tls && options.requireTls) {
      throw new LoginRefusal(
        SQLSTATE.invalidAuthorization,
        'The Witness gateway accepts only TLS connections: connect with sslmode=require or verify-full',
        'Use `witness psql RESOURCE`, or set sslmode=verify-full and sslrootcert to the gateway CA.',
      );
    }
    const { major, minor } = startup.protocolVersion;
    if (major !== 3) {
      throw new LoginRefusal(
        SQLSTATE.featureNotSupported,
        `Protocol version ${major}.${minor} is not supported; the gateway speaks 3.0`,
      );
    }
    const parameters = startup.parameters;
    const unrecognized = [...parameters.keys()].filter((name) => name.startsWith('_pq_.'));
    if (minor > 0 || unrecognized.length > 0) {
      // As PostgreSQL itself answers a newer minor version: carry on with 3.0.
      current.write(
        encodeBackend({
          type: 'NegotiateProtocolVersion',
          newestMinorVersion: 0,
          unrecognizedOptions: unrecognized,
        }),
      );
    }
    const replication = parameters.get('replication');
    if (replication !== undefined && !/^(false|off|no|0)$/i.test(replication)) {
      throw new LoginRefusal(
        SQLSTATE.featureNotSupported,
        'Replication connections are not supported through the Witness gateway',
      );
    }
    const user = parameters.get('user') ?? '';
    const certificate =
      current instanceof TLSSocket && options.clientCa !== undefined
        ? current.getPeerX509Certificate()
        : undefined;
    if (!SESSION_ID_PATTERN.test(user) && certificate !== undefined && options.clientCa) {
      frames.expectTyped();
      const redeemed = await certificateLogin(
        current as TLSSocket,
        certificate,
        options.clientCa,
        parameters,
        options,
      );
      clearTimeout(timer);
      return loggedIn(current, frames, reader, parameters, redeemed, tls);
    }
    if (!SESSION_ID_PATTERN.test(user)) {
      throw new LoginRefusal(
        SQLSTATE.invalidAuthorization,
        'Log in with the session id (ses_…) as the user name and its ticket as the password',
        '`witness psql RESOURCE` does both for you; `witness db login RESOURCE` gives native tools a certificate instead.',
      );
    }
    sessionId = user;
    frames.expectTyped();

    const remembered =
      options.clientAuth === 'scram-sha-256' ? options.scramTickets?.peek(user) : undefined;
    let redeemed: Redeemed;
    if (remembered !== undefined) {
      current.write(encodeBackend({ type: 'AuthenticationSASL', mechanisms: [SCRAM_SHA_256] }));
      const initial = parseSASLInitialResponse(await authenticationResponse(frames));
      if (initial.mechanism !== SCRAM_SHA_256) {
        throw new LoginRefusal(
          SQLSTATE.invalidAuthorization,
          `SASL mechanism ${printable(initial.mechanism)} is not offered; use SCRAM-SHA-256`,
        );
      }
      const scram = new ScramServer(remembered);
      current.write(
        encodeBackend({
          type: 'AuthenticationSASLContinue',
          data: scram.firstMessage(initial.data),
        }),
      );
      const serverFinal = await scram.finalMessage((await authenticationResponse(frames)).data);
      redeemed = await redeem(user, remembered, options);
      current.write(encodeBackend({ type: 'AuthenticationSASLFinal', data: serverFinal }));
    } else {
      current.write(encodeBackend({ type: 'AuthenticationCleartextPassword' }));
      const password = parsePasswordMessage(await authenticationResponse(frames));
      redeemed = await redeem(user, password, options);
    }

    clearTimeout(timer);
    options.log.info('postgres client logged in', {
      sessionId: user,
      method: remembered !== undefined ? 'scram-sha-256' : 'password',
      ip: socket.remoteAddress,
    });
    return loggedIn(current, frames, reader, parameters, redeemed, tls);
  } catch (error) {
    clearTimeout(timer);
    frames.detach();
    if (sessionId !== undefined) options.scramTickets?.forget(sessionId);
    refuse(current, socket, error, options.log);
    return { kind: 'closed' };
  }
}

function loggedIn(
  current: Socket | TLSSocket,
  frames: HandshakeFrames<'frontend'>,
  reader: MessageReader<'frontend'>,
  parameters: Map<string, string>,
  redeemed: Redeemed,
  tls: boolean,
): LoginOutcome {
  const pending = frames.detach();
  // Nothing is read until the session is ready to relay.
  current.pause();
  const forwarded = new Map<string, string>();
  for (const [name, value] of parameters) {
    if (FORWARDED_PARAMETERS.has(name.toLowerCase())) forwarded.set(name, value);
  }
  return {
    kind: 'session',
    socket: current,
    reader,
    pending,
    parameters: forwarded,
    redeemed,
    tls,
  };
}

/**
 * A database certificate instead of a ticket (issue #15): the certificate must be this
 * gateway's and current, and the user and database the client asks for must be the ones it
 * names; then the session service decides access now and opens a session for the connection.
 */
async function certificateLogin(
  tls: TLSSocket,
  certificate: X509Certificate,
  clientCa: X509Certificate,
  parameters: Map<string, string>,
  options: ClientLoginOptions,
): Promise<Redeemed> {
  const user = parameters.get('user') ?? '';
  // libpq's default dbname is the user name; either way it names the resource wanted.
  const database = parameters.get('database') || user;
  // The system time, as OpenSSL and every client judge certificate validity by it.
  const verdict = judgeClientCertificate(certificate, clientCa, database, Date.now());
  if (verdict.kind === 'refused') {
    throw new LoginRefusal(SQLSTATE.invalidAuthorization, verdict.message, verdict.hint);
  }
  let redeemed: Redeemed;
  try {
    redeemed = await options.sessions.openCertificateSession(verdict.identity, { user, database });
  } catch (error) {
    if (error instanceof GatewayError) {
      throw new LoginRefusal(SQLSTATE.invalidAuthorization, error.message);
    }
    options.log.error('certificate login failed', { error: String(error) });
    throw new LoginRefusal(
      SQLSTATE.cannotConnect,
      'The gateway could not check your access; try again in a moment.',
    );
  }
  options.log.info('postgres client logged in', {
    sessionId: redeemed.session.id,
    method: 'certificate',
    ip: tls.remoteAddress,
  });
  return redeemed;
}

async function authenticationResponse(
  frames: HandshakeFrames<'frontend'>,
): Promise<AuthenticationResponse> {
  const frame = await frames.next();
  if (frame.type !== 'p') {
    throw new LoginRefusal(
      SQLSTATE.protocolViolation,
      `Expected a password message, got message type '${frame.type}'`,
    );
  }
  return frames.reader.decode(frame) as AuthenticationResponse;
}

async function redeem(
  sessionId: string,
  ticket: string,
  options: ClientLoginOptions,
): Promise<Redeemed> {
  options.scramTickets?.forget(sessionId);
  if (ticket.length === 0 || ticket.length > MAX_TICKET_LENGTH) {
    throw new LoginRefusal(
      SQLSTATE.invalidPassword,
      'The session ticket is not valid — start a new session.',
    );
  }
  try {
    return await options.sessions.redeemTicket(sessionId, ticket);
  } catch (error) {
    if (error instanceof GatewayError) {
      const code =
        error.code === 'unauthenticated' || error.code === 'token_expired'
          ? SQLSTATE.invalidPassword
          : SQLSTATE.invalidAuthorization;
      throw new LoginRefusal(code, error.message);
    }
    options.log.error('ticket check failed', { sessionId, error: String(error) });
    throw new LoginRefusal(
      SQLSTATE.cannotConnect,
      'The gateway could not check the ticket; try again in a moment.',
    );
  }
}

function acceptTls(
  socket: Socket,
  secureContext: SecureContext,
  requestCert: boolean,
): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    // rejectUnauthorized off: the certificate is judged after the StartupMessage, so a refusal
    // is an ErrorResponse that says why (clientCertificate.ts), not a TLS alert; ticket logins
    // ignore whatever was presented.
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext,
      requestCert,
      rejectUnauthorized: false,
    });
    // An 'error' with no listener would take the whole gateway down.
    tls.on('error', () => {});
    const onError = (error: Error) => {
      cleanup();
      reject(new PeerClosedError(`TLS handshake with the client failed: ${error.message}`));
    };
    const onClose = () => {
      cleanup();
      reject(new PeerClosedError('The client closed the connection during the TLS handshake'));
    };
    const cleanup = () => {
      tls.off('error', onError);
      tls.off('close', onClose);
    };
    tls.once('error', onError);
    tls.once('close', onClose);
    tls.once('secure', () => {
      cleanup();
      resolve(tls);
    });
  });
}

/** Tells the client why (when it is still there to read it), then closes the connection. */
function refuse(current: Socket | TLSSocket, raw: Socket, error: unknown, log: Logger): void {
  let code: string;
  let message: string;
  let hint: string | undefined;
  if (error instanceof LoginRefusal) {
    ({ code, message, hint } = error);
  } else if (error instanceof ProtocolError) {
    code = error.sqlState;
    message = error.message;
  } else if (error instanceof ScramError) {
    code = error.wrongPassword ? SQLSTATE.invalidPassword : SQLSTATE.protocolViolation;
    message = error.wrongPassword
      ? 'The session ticket is not valid — start a new session.'
      : error.message;
  } else if (error instanceof PeerClosedError) {
    log.info('postgres login abandoned', { error: error.message });
    current.destroy();
    raw.destroy();
    return;
  } else {
    code = SQLSTATE.protocolViolation;
    message = error instanceof Error ? error.message : String(error);
  }
  log.info('postgres login refused', { ip: raw.remoteAddress, code, reason: message });
  if (!current.destroyed && current.writable) {
    current.end(errorResponse('FATAL', code, printable(message), hint).bytes);
  }
  // A peer that never reads must not keep the socket.
  setTimeout(() => {
    current.destroy();
    raw.destroy();
  }, 1_000).unref();
}
