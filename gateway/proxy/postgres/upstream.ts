/**
 * The gateway's own connection to the target database (DESIGN.md: "the gateway authenticates
 * to the target itself (SCRAM/md5/trust) and relays the session"). The client never sees the
 * credential, the target's cancel key or anything of this handshake but the server's
 * ParameterStatus values and its ReadyForQuery.
 *
 * TLS follows the resource's `tlsMode` like libpq's sslmode: 'disable' never asks, 'prefer'
 * asks and falls back to plaintext, 'require' insists but does not verify, 'verify-full'
 * insists and checks the certificate chain against the resource's CA and the host name.
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
import { createHash } from 'node:crypto';
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { checkServerIdentity, connect as connectTls, type TLSSocket } from 'node:tls';
import type { postgresTlsModes } from '../../../shared/api/apiSchemas.ts';
import {
  type BackendMessage,
  encodeFrontend,
  encodePasswordMessage,
  encodeSASLInitialResponse,
  encodeSASLResponse,
  type Frame,
  MessageReader,
  type NoticeFieldMap,
  PROTOCOL_VERSION_3_0,
  ProtocolError,
} from '../../../shared/postgres/codec.ts';
import { SCRAM_SHA_256, ScramClient, ScramError } from '../../../shared/postgres/scram.ts';
import { HandshakeFrames } from './handshakeFrames.ts';

export type TlsMode = (typeof postgresTlsModes)[number];

export interface PostgresTarget {
  /** The resource's name, for messages. */
  name: string;
  host: string;
  port: number;
  database: string;
  username: string;
  tlsMode: TlsMode;
  /** CA certificate (PEM) for verify-full. */
  caPem: string | null;
}

export interface UpstreamOptions {
  /** Time to connect and log in (default 15 s). */
  timeoutMs?: number;
  /** Largest message accepted from the target (default: the codec's 1 GiB). */
  maxMessageBytes?: number;
  /**
   * A query run once after logging in, before the client's first byte (strict masking reads
   * the target's view definitions with it, issue #13); its rows come back as `catalogRows`.
   */
  catalogQuery?: string;
  /** Called once TLS with the target is up (an admin's "test connection" times its steps). */
  onTlsEstablished?: () => void;
}

export interface UpstreamConnection {
  socket: Socket | TLSSocket;
  /** The backend reader, typed phase, positioned after the target's first ReadyForQuery. */
  reader: MessageReader<'backend'>;
  /** Frames framed after that ReadyForQuery (normally none). */
  pending: Frame[];
  /** ParameterStatus messages as received (relayed to the client unchanged). */
  parameterStatus: Frame[];
  /** ParameterStatus values by name. */
  parameters: Map<string, string>;
  /** NoticeResponses the target sent while logging in (relayed to the client). */
  notices: Frame[];
  /** The target's cancel key: kept by the gateway, never sent to the client. */
  backendKey: { processId: number; secretKey: Buffer } | undefined;
  /** The target's first ReadyForQuery, relayed as is. */
  readyForQuery: Frame;
  tls: boolean;
  /** The rows of `catalogQuery` as text (empty without one). */
  catalogRows: (string | null)[][];
}

/** Which step of reaching the target failed (issue #14: "test connection" names it). */
export type UpstreamStep = 'tcp' | 'tls' | 'auth';

/** Why the gateway could not open the session on the target; the message is for the user. */
export class UpstreamError extends Error {
  /** Set by `connectUpstream` to the step it was in when this was thrown. */
  step: UpstreamStep | undefined;
  constructor(
    message: string,
    /** The target's own error fields, when it sent an ErrorResponse. */
    readonly targetFields?: NoticeFieldMap,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

const SSL_REQUEST = encodeFrontend({ type: 'SSLRequest' });
const DEFAULT_TIMEOUT_MS = 15_000;

/**
 * Connects and logs in to the target as the resource's user with the stored password.
 * `clientParameters` are the client's harmless startup parameters (application_name, …);
 * client_encoding is always UTF8 (the guardrail lexer and masking read UTF-8).
 */
export async function connectUpstream(
  target: PostgresTarget,
  password: string | null,
  clientParameters: ReadonlyMap<string, string>,
  options: UpstreamOptions = {},
): Promise<UpstreamConnection> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const where = `${target.name} (${target.host}:${target.port})`;
  let step: UpstreamStep = 'tcp';
  const tcp = await openTcp(target.host, target.port, timeoutMs, where).catch((error: unknown) => {
    throw withStep(asUpstreamError(error, where), step);
  });
  let socket: Socket | TLSSocket = tcp;
  const reader = new MessageReader('backend', {
    ...(options.maxMessageBytes !== undefined && { maxMessageBytes: options.maxMessageBytes }),
  });
  const frames = new HandshakeFrames(reader, tcp, 'database server');
  const timer = setTimeout(
    () =>
      frames.abort(
        new UpstreamError(`Logging in to ${where} took longer than ${timeoutMs / 1000} s`),
      ),
    timeoutMs,
  );
  timer.unref();
  try {
    let tls = false;
    if (target.tlsMode !== 'disable') {
      step = 'tls';
      tcp.write(SSL_REQUEST);
      frames.expectEncryptionResponse();
      const answer = reader.decode(await frames.next());
      if (answer.type === 'ErrorResponse') {
        throw new UpstreamError(
          `${where} refused the TLS request: ${answer.fields.get('M') ?? 'no reason given'}`,
          answer.fields,
        );
      }
      if (answer.type === 'EncryptionResponse' && answer.answer === 'S') {
        // Bytes after 'S' and before the handshake would be read as if they came over TLS
        // (CVE-2021-23222).
        if (reader.bufferedBytes > 0) {
          throw new UpstreamError(
            `${where} sent unencrypted data after accepting TLS; refusing the connection`,
          );
        }
        frames.detach();
        socket = await startTls(tcp, target, timeoutMs, where);
        frames.attach(socket);
        tls = true;
        options.onTlsEstablished?.();
      } else if (target.tlsMode !== 'prefer') {
        throw new UpstreamError(
          `${where} does not accept TLS, but the resource requires it (tlsMode ${target.tlsMode}); an admin must enable ssl on the server or change the resource`,
        );
      }
      frames.expectTyped();
    }

    step = 'auth';
    const parameters = new Map<string, string>();
    for (const [name, value] of clientParameters) parameters.set(name, value);
    parameters.set('user', target.username);
    parameters.set('database', target.database);
    parameters.set('client_encoding', 'UTF8');
    socket.write(
      encodeFrontend({
        type: 'StartupMessage',
        protocolVersion: { major: PROTOCOL_VERSION_3_0 >> 16, minor: 0 },
        parameters,
      }),
    );
    await authenticate(frames, socket, target, password, where);

    const result: Omit<UpstreamConnection, 'readyForQuery' | 'pending' | 'catalogRows'> = {
      socket,
      reader,
      parameterStatus: [],
      parameters: new Map(),
      notices: [],
      backendKey: undefined,
      tls,
    };
    for (;;) {
      const frame = await frames.next();
      const message = reader.decode(frame);
      switch (message.type) {
        case 'ParameterStatus':
          result.parameterStatus.push(frame);
          result.parameters.set(message.name, message.value);
          break;
        case 'BackendKeyData':
          result.backendKey = { processId: message.processId, secretKey: message.secretKey };
          break;
        case 'NoticeResponse':
          result.notices.push(frame);
          break;
        case 'NegotiateProtocolVersion':
          break;
        case 'ReadyForQuery': {
          const catalogRows =
            options.catalogQuery === undefined
              ? []
              : await runCatalogQuery(frames, reader, socket, options.catalogQuery, where);
          clearTimeout(timer);
          return { ...result, readyForQuery: frame, pending: frames.detach(), catalogRows };
        }
        case 'ErrorResponse':
          throw targetRefused(where, message.fields);
        default:
          throw new UpstreamError(
            `${where} sent ${message.type} while starting the session; it does not behave like PostgreSQL`,
          );
      }
    }
  } catch (error) {
    clearTimeout(timer);
    frames.detach();
    socket.destroy();
    tcp.destroy();
    throw withStep(asUpstreamError(error, where), step);
  }
}

function withStep(error: UpstreamError, step: UpstreamStep): UpstreamError {
  error.step ??= step;
  return error;
}

/** Runs one query on the logged-in connection; the session is relayed only after it. */
async function runCatalogQuery(
  frames: HandshakeFrames<'backend'>,
  reader: MessageReader<'backend'>,
  socket: Socket | TLSSocket,
  sql: string,
  where: string,
): Promise<(string | null)[][]> {
  socket.write(encodeFrontend({ type: 'Query', sql }));
  const rows: (string | null)[][] = [];
  let failure: string | undefined;
  for (;;) {
    const message = reader.decode(await frames.next());
    switch (message.type) {
      case 'DataRow':
        rows.push(message.values.map((value) => (value === null ? null : value.toString('utf8'))));
        break;
      case 'ErrorResponse':
        failure = message.fields.get('M') ?? 'no reason given';
        break;
      case 'ReadyForQuery':
        // Fail closed: without the definitions strict masking cannot tell what a view shows.
        if (failure !== undefined) {
          throw new UpstreamError(
            `${where} did not let the gateway read its view definitions, which strict masking needs (${failure}); an admin must grant access to pg_class or set the policy to basic`,
          );
        }
        return rows;
      default:
        break; // RowDescription, CommandComplete, notices, parameter reports
    }
  }
}

async function authenticate(
  frames: HandshakeFrames<'backend'>,
  socket: Socket | TLSSocket,
  target: PostgresTarget,
  password: string | null,
  where: string,
): Promise<void> {
  const needPassword = (): string => {
    if (password === null) {
      throw new UpstreamError(
        `${where} asks for a password, but none is stored for this resource; an admin must set one`,
      );
    }
    return password;
  };
  let scram: ScramClient | undefined;
  for (;;) {
    const message: BackendMessage = frames.reader.decode(await frames.next());
    switch (message.type) {
      case 'AuthenticationOk':
        return;
      case 'AuthenticationCleartextPassword':
        socket.write(encodePasswordMessage(needPassword()));
        break;
      case 'AuthenticationMD5Password': {
        const inner = md5Hex(Buffer.from(needPassword() + target.username, 'utf8'));
        const outer = md5Hex(Buffer.concat([Buffer.from(inner, 'ascii'), message.salt]));
        socket.write(encodePasswordMessage(`md5${outer}`));
        break;
      }
      case 'AuthenticationSASL': {
        if (!message.mechanisms.includes(SCRAM_SHA_256)) {
          throw new UpstreamError(
            `${where} offers only ${message.mechanisms.join(', ')}; the gateway speaks SCRAM-SHA-256`,
          );
        }
        scram = new ScramClient(needPassword());
        socket.write(encodeSASLInitialResponse(SCRAM_SHA_256, scram.firstMessage()));
        break;
      }
      case 'AuthenticationSASLContinue':
        if (!scram) throw new UpstreamError(`${where} sent SCRAM data out of order`);
        socket.write(encodeSASLResponse(await scram.finalMessage(message.data)));
        break;
      case 'AuthenticationSASLFinal':
        if (!scram) throw new UpstreamError(`${where} sent SCRAM data out of order`);
        scram.verifyServerFinal(message.data);
        break;
      case 'ErrorResponse':
        throw targetRefused(where, message.fields);
      case 'NoticeResponse':
        break;
      default:
        throw new UpstreamError(
          `${where} asked for ${message.type}, which the gateway does not support; use trust, password, md5 or scram-sha-256 for the gateway's login`,
        );
    }
  }
}

function targetRefused(where: string, fields: NoticeFieldMap): UpstreamError {
  const code = fields.get('C') ?? '';
  const text = fields.get('M') ?? 'no reason given';
  const hint = code.startsWith('28') ? '; an admin must fix the stored credential' : '';
  return new UpstreamError(`${where} refused the gateway's login: ${text}${hint}`, fields);
}

function md5Hex(data: Buffer): string {
  return createHash('md5').update(data).digest('hex');
}

function asUpstreamError(error: unknown, where: string): UpstreamError {
  if (error instanceof UpstreamError) return error;
  if (error instanceof ScramError) return new UpstreamError(`${where}: ${error.message}`);
  if (error instanceof ProtocolError) {
    return new UpstreamError(`${where} sent an invalid message: ${error.message}`);
  }
  return new UpstreamError(
    `Could not log in to ${where}: ${error instanceof Error ? error.message : String(error)}`,
  );
}

function openTcp(host: string, port: number, timeoutMs: number, where: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connectTcp({ host, port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new UpstreamError(`Connecting to ${where} timed out after ${timeoutMs / 1000} s`));
    }, timeoutMs);
    timer.unref();
    const onError = (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new UpstreamError(
          `Could not connect to ${where}: ${error.code === 'ECONNREFUSED' ? 'connection refused (is the database running?)' : error.message}`,
        ),
      );
    };
    // Whoever reads the socket later handles its failures through 'close'; an 'error' with no
    // listener at all would bring the whole gateway down.
    socket.on('error', ignoreError);
    socket.once('error', onError);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

function startTls(
  socket: Socket,
  target: PostgresTarget,
  timeoutMs: number,
  where: string,
): Promise<TLSSocket> {
  const verify = target.tlsMode === 'verify-full';
  if (verify && !target.caPem) {
    return Promise.reject(
      new UpstreamError(
        `The resource ${target.name} has tlsMode verify-full but no CA certificate; an admin must add caPem`,
      ),
    );
  }
  return new Promise((resolve, reject) => {
    const tls = connectTls({
      socket,
      ...(isIP(target.host) === 0 && { servername: target.host }),
      ...(verify
        ? {
            ca: target.caPem ?? undefined,
            rejectUnauthorized: true,
            checkServerIdentity: (_host, cert) => checkServerIdentity(target.host, cert),
          }
        : { rejectUnauthorized: false }),
    });
    const timer = setTimeout(() => {
      tls.destroy();
      reject(new UpstreamError(`The TLS handshake with ${where} timed out`));
    }, timeoutMs);
    timer.unref();
    const onError = (error: Error) => {
      clearTimeout(timer);
      reject(
        new UpstreamError(
          `The TLS connection to ${where} failed${verify ? ' verification' : ''}: ${error.message}`,
        ),
      );
    };
    tls.on('error', ignoreError);
    tls.once('error', onError);
    tls.once('secureConnect', () => {
      clearTimeout(timer);
      tls.off('error', onError);
      resolve(tls);
    });
  });
}

function ignoreError(): void {}

/**
 * Sends a CancelRequest for the target's backend `key` on a new connection, over TLS when the
 * resource requires TLS (PostgreSQL accepts a CancelRequest after SSL negotiation too), and
 * waits until the server has read it and closed the connection.
 */
export async function sendCancelRequest(
  target: PostgresTarget,
  key: { processId: number; secretKey: Buffer },
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<void> {
  const where = `${target.name} (${target.host}:${target.port})`;
  const tcp = await openTcp(target.host, target.port, timeoutMs, where);
  let socket: Socket | TLSSocket = tcp;
  try {
    if (target.tlsMode === 'require' || target.tlsMode === 'verify-full') {
      const reader = new MessageReader('backend');
      const frames = new HandshakeFrames(reader, tcp, 'database server');
      tcp.write(SSL_REQUEST);
      frames.expectEncryptionResponse();
      const answer = reader.decode(await frames.next());
      frames.detach();
      if (answer.type !== 'EncryptionResponse' || answer.answer !== 'S') {
        throw new UpstreamError(`${where} refused TLS for the cancel request`);
      }
      socket = await startTls(tcp, target, timeoutMs, where);
    }
    const closed = new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      setTimeout(resolve, timeoutMs).unref();
    });
    socket.resume(); // read to the server's EOF, so 'close' comes
    socket.end(
      encodeFrontend({
        type: 'CancelRequest',
        processId: key.processId,
        secretKey: key.secretKey,
      }),
    );
    await closed;
  } finally {
    socket.destroy();
    tcp.destroy();
  }
}
