/**
 * One client connection through the local PostgreSQL tunnel (DESIGN.md "Native tools"):
 *
 *   client ──(loopback, plain)──▶ tunnel ──(TLS, pinned CA)──▶ gateway listener ──▶ target
 *
 *  1. The client's SSLRequest and GSSENCRequest are answered 'N' (loopback only, so nothing to
 *     encrypt against); its StartupMessage is read — database, options, application_name and
 *     the rest are kept, the user is replaced.
 *  2. A fresh session (single-use ticket) is created through the API for this connection only,
 *     which is what lets pgbench or a GUI open as many connections as they like.
 *  3. The tunnel connects to the session's endpoint over TLS verified against the pinned CA,
 *     logs in with user = session id and the ticket as password (SCRAM-SHA-256 when the gateway
 *     offers it, cleartext inside TLS otherwise).
 *  4. From AuthenticationOk on, the gateway's bytes go to the client unchanged; the tunnel only
 *     notes BackendKeyData (so it can route the client's CancelRequest) until ReadyForQuery,
 *     then both directions are plain pipes with back-pressure.
 *
 * Anything that goes wrong before that becomes a FATAL ErrorResponse to the client with a
 * SQLSTATE and a sentence saying what to do; other connections are not affected.
 */
import { connect as connectTcp, isIP, type Socket } from 'node:net';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import type { CreateSessionResponse } from '../../shared/api/apiSchemas.ts';
import { SCRAM_SHA_256, ScramClient, ScramError } from '../../shared/postgres/scram.ts';
import { signInEnded } from '../account/signInEnded.ts';
import { GatewayApiError, GatewayConnectionError, NotSignedInError } from '../gatewayClient.ts';
import {
  BackendFrameReader,
  encodeBackendFrame,
  encodeCancelRequest,
  encodeFatalError,
  encodePasswordMessage,
  encodeSaslInitialResponse,
  encodeSaslResponse,
  encodeSslRequest,
  encodeStartupMessage,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  readStartupPacket,
  type StartupPacket,
  TUNNEL_SQLSTATE,
  TunnelWireError,
} from './tunnelWire.ts';

/** Where sessions come from: GatewayClient fits. */
export interface TunnelSessionSource {
  createSession(resourceId: string): Promise<CreateSessionResponse>;
}

export interface GatewayEndpoint {
  host: string;
  port: number;
}

/**
 * What happens to each client connection, for an owner that shows them (the desktop's tunnel
 * panel lists live connections with their recordings). `sessionId` is null while no session
 * exists yet; `sqlState` of a refusal is null when the client just left.
 */
export type TunnelConnectionEvent =
  | { kind: 'session-created'; sessionId: string }
  | { kind: 'connected'; sessionId: string }
  | { kind: 'closed'; sessionId: string }
  | { kind: 'refused'; sessionId: string | null; sqlState: string | null; message: string };

export interface TunnelConnectionContext {
  resource: { id: string; name: string };
  sessions: TunnelSessionSource;
  /** The gateway CA pinned at enrollment / login: the only CA the gateway leg trusts. */
  caPem: string;
  /** From TCP accept to ReadyForQuery. */
  setupTimeoutMs: number;
  cancelKeys: TunnelCancelKeys;
  log: (line: string) => void;
  /**
   * Sessions this tunnel created that the gateway may not have ended yet: added when a session
   * is created, removed once its relay has closed on both sides (the gateway ends a session
   * whose connection closed). What remains — a setup that failed after the session was
   * created — is for the tunnel's owner to end (postgresTunnel.ts `close`).
   */
  openSessions: Set<string>;
  onEvent?: (event: TunnelConnectionEvent) => void;
}

/** A refusal to send to the client as a FATAL ErrorResponse. */
class TunnelRefusal extends Error {
  constructor(
    readonly sqlState: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The client went away (or sent nothing usable): nothing to tell it. */
class ClientGone extends Error {}

/**
 * Cancel keys of the tunnel's live connections. The gateway already gives each client a key of
 * its own and maps it to the target's (gateway/proxy/postgres/cancelKeys.ts); the tunnel passes
 * that key through unchanged and only remembers which endpoint issued it.
 */
export class TunnelCancelKeys {
  private readonly byProcessId = new Map<
    number,
    { secretKey: Buffer; endpoint: GatewayEndpoint }
  >();

  add(processId: number, secretKey: Buffer, endpoint: GatewayEndpoint): () => void {
    const entry = { secretKey, endpoint };
    this.byProcessId.set(processId, entry);
    return () => {
      if (this.byProcessId.get(processId) === entry) this.byProcessId.delete(processId);
    };
  }

  endpointFor(processId: number, secretKey: Buffer): GatewayEndpoint | undefined {
    const entry = this.byProcessId.get(processId);
    return entry?.secretKey.equals(secretKey) ? entry.endpoint : undefined;
  }
}

/** Serves one accepted client socket until either side closes. Never throws. */
export async function serveTunnelConnection(
  client: Socket,
  context: TunnelConnectionContext,
): Promise<void> {
  client.setNoDelay(true);
  // An 'error' without a listener would end the whole tunnel process.
  client.on('error', () => {});
  let gateway: TLSSocket | undefined;
  let sessionId: string | undefined;
  const timer = setTimeout(() => {
    const seconds = context.setupTimeoutMs / 1000;
    fail(
      new TunnelRefusal(
        TUNNEL_SQLSTATE.connectionFailure,
        `Connecting to ${context.resource.name} through the Witness gateway took longer than ${seconds} s`,
      ),
    );
  }, context.setupTimeoutMs);
  timer.unref();
  let failed = false;
  function fail(error: unknown): void {
    if (failed) return;
    failed = true;
    clearTimeout(timer);
    gateway?.destroy();
    refuse(client, error, context, sessionId);
  }
  // A client that leaves during the setup must not leave a gateway connection behind.
  const onClientClose = () => fail(new ClientGone('the client left during the setup'));
  client.once('close', onClientClose);

  try {
    const startup = await readClientStartup(client);
    if (startup.packet.kind === 'cancel') {
      clearTimeout(timer);
      client.off('close', onClientClose);
      client.end();
      await forwardCancel(startup.packet.processId, startup.packet.secretKey, context);
      return;
    }
    const session = await createSession(context);
    sessionId = session.sessionId;
    context.openSessions.add(sessionId);
    context.onEvent?.({ kind: 'session-created', sessionId });
    const endpoint = session.endpoint;
    if (endpoint?.protocol !== 'postgres') {
      throw new TunnelRefusal(
        TUNNEL_SQLSTATE.connectionFailure,
        'The Witness gateway has no PostgreSQL listener, so there is nowhere to connect',
        'Ask your admin to start the gateway with --postgres HOST:PORT.',
      );
    }
    const target = { host: endpoint.host, port: endpoint.port };
    if (failed) return;
    gateway = await connectGateway(target, context.caPem);
    if (failed) {
      gateway.destroy();
      return;
    }
    const parameters = new Map<string, string>();
    for (const [name, value] of startup.packet.parameters) {
      // The gateway decides the user; protocol extensions are not negotiated through here.
      if (name === 'user' || name.startsWith('_pq_.')) continue;
      parameters.set(name, value);
    }
    parameters.set('user', session.sessionId);
    gateway.write(encodeStartupMessage(parameters));
    const { reader, authenticationOk } = await logIn(gateway, session.ticket);
    if (failed) return;
    await relayStartup(gateway, client, reader, authenticationOk, target, context, () => failed);
    if (failed) return;
    clearTimeout(timer);
    client.off('close', onClientClose);
    context.log(`${session.sessionId}: connected to ${context.resource.name}`);
    context.onEvent?.({ kind: 'connected', sessionId: session.sessionId });
    // From here the tunnel is a pipe: each side's back-pressure pauses the other.
    if (startup.rest.length > 0) gateway.write(startup.rest);
    client.pipe(gateway);
    gateway.pipe(client);
    const open = gateway;
    await new Promise<void>((resolve) => {
      let sides = 2;
      // pipe() ends the other side on a clean end; a reset or error needs this.
      const closed = (other: Socket) => () => {
        if (!other.destroyed) other.end();
        setTimeout(() => other.destroy(), 5_000).unref();
        sides -= 1;
        if (sides === 0) resolve();
      };
      client.once('close', closed(open));
      open.once('close', closed(client));
    });
    context.openSessions.delete(session.sessionId);
    context.log(`${session.sessionId}: closed`);
    context.onEvent?.({ kind: 'closed', sessionId: session.sessionId });
  } catch (error) {
    fail(error);
  }
}

interface ClientStartup {
  packet: Exclude<StartupPacket, { kind: 'ssl' | 'gssenc' }>;
  /** Bytes the client sent after its StartupMessage (none, for clients that wait). */
  rest: Buffer;
}

/** Answers SSLRequest / GSSENCRequest with 'N' until a StartupMessage or CancelRequest. */
function readClientStartup(client: Socket): Promise<ClientStartup> {
  return new Promise((resolve, reject) => {
    let buffer: Buffer = Buffer.alloc(0);
    const cleanup = () => {
      client.off('data', onData);
      client.off('close', onClose);
    };
    const onClose = () => {
      cleanup();
      reject(new ClientGone('closed before its StartupMessage'));
    };
    const onData = (chunk: Buffer) => {
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      try {
        for (;;) {
          const read = readStartupPacket(buffer);
          if (read === undefined) return;
          buffer = read.rest;
          const { packet } = read;
          if (packet.kind === 'ssl' || packet.kind === 'gssenc') {
            // The client is on loopback: TLS would protect nothing that is not already the
            // person's own machine. The gateway leg is always TLS.
            client.write('N');
            continue;
          }
          cleanup();
          client.pause();
          resolve({ packet, rest: Buffer.from(buffer) });
          return;
        }
      } catch (error) {
        cleanup();
        client.pause();
        reject(error);
      }
    };
    client.on('data', onData);
    client.once('close', onClose);
  });
}

async function createSession(context: TunnelConnectionContext): Promise<CreateSessionResponse> {
  const name = context.resource.name;
  try {
    return await context.sessions.createSession(context.resource.id);
  } catch (error) {
    // Signed out (a replayed token ended the sign-in, #12) or expired: no connection will work
    // until the person signs in again, and the message says so rather than "refused".
    const ended = signInEnded(error);
    if (ended) {
      throw new TunnelRefusal(
        TUNNEL_SQLSTATE.invalidAuthorization,
        ended.kind === 'expired'
          ? 'Your sign-in to the Witness gateway expired.'
          : `You are signed out of the Witness gateway: it ended this sign-in (${ended.reason}).`,
        'Run `witness login URL`, then restart the tunnel.',
      );
    }
    if (error instanceof GatewayApiError) {
      if (error.code === 'no_active_grant' || error.code === 'access_request_required') {
        throw new TunnelRefusal(
          TUNNEL_SQLSTATE.invalidAuthorization,
          `You have no access to ${name} right now: ${error.message}`,
          error.code === 'access_request_required'
            ? `Request access to ${name}, then connect again.`
            : `Ask an admin for a grant on ${name}.`,
        );
      }
      throw new TunnelRefusal(
        error.status === 401 || error.status === 403
          ? TUNNEL_SQLSTATE.invalidAuthorization
          : TUNNEL_SQLSTATE.connectionFailure,
        `The Witness gateway refused a session for ${name}: ${error.message}`,
      );
    }
    if (error instanceof NotSignedInError) {
      throw new TunnelRefusal(
        TUNNEL_SQLSTATE.invalidAuthorization,
        `Not signed in to the Witness gateway: ${error.message}`,
        'Run `witness login URL`, then restart the tunnel.',
      );
    }
    if (error instanceof GatewayConnectionError) {
      throw new TunnelRefusal(
        TUNNEL_SQLSTATE.connectionFailure,
        `Cannot reach the Witness gateway's API to open a session for ${name}: ${error.message}`,
      );
    }
    throw new TunnelRefusal(
      TUNNEL_SQLSTATE.connectionFailure,
      `Could not open a session for ${name}: ${messageOf(error)}`,
    );
  }
}

/** TCP, SSLRequest, then TLS verified against the pinned CA and the endpoint's name. */
async function connectGateway(endpoint: GatewayEndpoint, caPem: string): Promise<TLSSocket> {
  const where = `${endpoint.host}:${endpoint.port}`;
  const tcp = await new Promise<Socket>((resolve, reject) => {
    const socket = connectTcp(endpoint.port, endpoint.host);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
    const onError = (error: Error) =>
      reject(
        new TunnelRefusal(
          TUNNEL_SQLSTATE.connectionFailure,
          `Cannot reach the Witness gateway's PostgreSQL listener at ${where}: ${error.message}`,
        ),
      );
    socket.once('error', onError);
  });
  tcp.on('error', () => {});
  try {
    tcp.setNoDelay(true);
    tcp.write(encodeSslRequest());
    const answer = await firstByte(tcp);
    if (answer !== 'S') {
      throw new TunnelRefusal(
        TUNNEL_SQLSTATE.connectionFailure,
        `The PostgreSQL listener at ${where} does not offer TLS; it is not a Witness gateway`,
      );
    }
    return await new Promise<TLSSocket>((resolve, reject) => {
      const tls = connectTls({
        socket: tcp,
        ca: caPem,
        // Node checks the certificate against `host` (IP SANs too); SNI takes names only.
        host: endpoint.host,
        ...(isIP(endpoint.host) === 0 && { servername: endpoint.host }),
      });
      tls.once('secureConnect', () => {
        tls.off('error', onError);
        tls.on('error', () => {});
        resolve(tls);
      });
      const onError = (error: NodeJS.ErrnoException) =>
        reject(
          new TunnelRefusal(
            TUNNEL_SQLSTATE.connectionFailure,
            `The gateway at ${where} is not the one this profile trusts (${error.code ?? error.message}); nothing was sent to it`,
            'If the gateway was re-installed, run `witness login URL` again to pin its new CA.',
          ),
        );
      tls.once('error', onError);
    });
  } catch (error) {
    tcp.destroy();
    throw error;
  }
}

function firstByte(socket: Socket): Promise<string> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      cleanup();
      // Nothing else may follow before the TLS handshake (CVE-2021-23222: a server must not
      // get to inject bytes the client then reads as if they came over TLS).
      if (chunk.length !== 1) {
        reject(
          new TunnelRefusal(
            TUNNEL_SQLSTATE.connectionFailure,
            'The gateway sent data before the TLS handshake',
          ),
        );
        return;
      }
      resolve(String.fromCharCode(chunk[0]!));
    };
    const onClose = () => {
      cleanup();
      reject(
        new TunnelRefusal(
          TUNNEL_SQLSTATE.connectionFailure,
          'The gateway closed the connection before TLS',
        ),
      );
    };
    const cleanup = () => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** A queue of the gateway's login messages, read with `await next()`. */
function gatewayMessages(gateway: TLSSocket): {
  reader: BackendFrameReader;
  next(): Promise<{ type: string; body: Buffer }>;
  stop(): void;
} {
  const reader = new BackendFrameReader();
  let wake: (() => void) | undefined;
  let closed = false;
  const onData = (chunk: Buffer) => {
    reader.push(chunk);
    wake?.();
  };
  const onClose = () => {
    closed = true;
    wake?.();
  };
  gateway.on('data', onData);
  gateway.once('close', onClose);
  gateway.resume();
  return {
    reader,
    async next() {
      for (;;) {
        const frame = reader.take();
        if (frame) return frame;
        if (closed) {
          throw new TunnelRefusal(
            TUNNEL_SQLSTATE.connectionFailure,
            'The gateway closed the connection during the login',
          );
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        wake = undefined;
      }
    },
    stop() {
      gateway.off('data', onData);
      gateway.off('close', onClose);
      gateway.pause();
    },
  };
}

/** The gateway's authentication exchange; resolves at AuthenticationOk. */
async function logIn(
  gateway: TLSSocket,
  ticket: string,
): Promise<{ reader: BackendFrameReader; authenticationOk: Buffer }> {
  const messages = gatewayMessages(gateway);
  let scram: ScramClient | undefined;
  try {
    for (;;) {
      const frame = await messages.next();
      if (frame.type === 'E') throw new GatewayRefusal(encodeBackendFrame(frame), frame.body);
      if (frame.type === 'N' || frame.type === 'v') continue; // notice, protocol negotiation
      if (frame.type !== 'R') {
        throw new TunnelRefusal(
          TUNNEL_SQLSTATE.connectionFailure,
          `The gateway sent message type '${frame.type}' during the login`,
        );
      }
      const auth = parseAuthentication(frame.body);
      switch (auth.kind) {
        case 'ok':
          messages.stop();
          return { reader: messages.reader, authenticationOk: encodeBackendFrame(frame) };
        case 'cleartext':
          // Only ever inside the verified TLS connection.
          gateway.write(encodePasswordMessage(ticket));
          break;
        case 'sasl':
          if (!auth.mechanisms.includes(SCRAM_SHA_256)) {
            throw new TunnelRefusal(
              TUNNEL_SQLSTATE.connectionFailure,
              `The gateway offered SASL ${auth.mechanisms.join(', ')}, not SCRAM-SHA-256`,
            );
          }
          scram = new ScramClient(ticket);
          gateway.write(encodeSaslInitialResponse(SCRAM_SHA_256, scram.firstMessage()));
          break;
        case 'sasl-continue':
          if (!scram) throw new ScramError('SCRAM data out of order');
          gateway.write(encodeSaslResponse(await scram.finalMessage(auth.data)));
          break;
        case 'sasl-final':
          if (!scram) throw new ScramError('SCRAM data out of order');
          scram.verifyServerFinal(auth.data);
          break;
        default:
          throw new TunnelRefusal(
            TUNNEL_SQLSTATE.connectionFailure,
            `The gateway asked for authentication method ${auth.code}, which the tunnel does not speak`,
          );
      }
    }
  } catch (error) {
    messages.stop();
    throw error;
  }
}

/** The gateway's own FATAL (a refused ticket, a target that is down): passed on as it is. */
class GatewayRefusal extends Error {
  readonly sqlState: string | undefined;
  constructor(
    readonly bytes: Buffer,
    body: Buffer,
  ) {
    const fields = parseErrorFields(body);
    super(`${fields.get('C') ?? '?'} ${fields.get('M') ?? 'error'}`);
    this.sqlState = fields.get('C');
  }
}

/**
 * Forwards AuthenticationOk and what follows to the client, noting BackendKeyData, until
 * ReadyForQuery (or the gateway's ErrorResponse when the target refuses); then the caller pipes.
 */
async function relayStartup(
  gateway: TLSSocket,
  client: Socket,
  reader: BackendFrameReader,
  authenticationOk: Buffer,
  endpoint: GatewayEndpoint,
  context: TunnelConnectionContext,
  isFailed: () => boolean,
): Promise<void> {
  client.write(authenticationOk);
  const messages = gatewayMessages(gateway);
  // Bytes that arrived with AuthenticationOk are already in the login reader.
  messages.reader.push(reader.rest());
  try {
    for (;;) {
      const frame = await messages.next();
      if (isFailed()) return;
      client.write(encodeBackendFrame(frame));
      if (frame.type === 'K') {
        const key = parseBackendKeyData(frame.body);
        const forget = context.cancelKeys.add(key.processId, key.secretKey, endpoint);
        client.once('close', forget);
      } else if (frame.type === 'E') {
        // The gateway could not reach the target; its FATAL says why. It closes next.
        throw new ClientGone('the gateway refused the session after the login');
      } else if (frame.type === 'Z') {
        const rest = messages.reader.rest();
        if (rest.length > 0) client.write(rest);
        return;
      }
    }
  } finally {
    messages.stop();
  }
}

/** Sends the client's CancelRequest to the gateway that issued its key (over TLS). */
async function forwardCancel(
  processId: number,
  secretKey: Buffer,
  context: TunnelConnectionContext,
): Promise<void> {
  const endpoint = context.cancelKeys.endpointFor(processId, secretKey);
  // PostgreSQL answers nothing to a CancelRequest either way, so an unknown key is just dropped.
  if (!endpoint) return;
  try {
    const gateway = await connectGateway(endpoint, context.caPem);
    gateway.end(encodeCancelRequest(processId, secretKey));
    context.log(`cancel request forwarded to ${endpoint.host}:${endpoint.port}`);
  } catch (error) {
    context.log(`cancel request could not be forwarded: ${messageOf(error)}`);
  }
}

function refuse(
  client: Socket,
  error: unknown,
  context: TunnelConnectionContext,
  sessionId: string | undefined,
): void {
  const who = sessionId ?? 'connection';
  let bytes: Buffer | undefined;
  const id = sessionId ?? null;
  if (error instanceof ClientGone) {
    context.log(`${who}: ${error.message}`);
    context.onEvent?.({ kind: 'refused', sessionId: id, sqlState: null, message: error.message });
  } else if (error instanceof GatewayRefusal) {
    context.log(`${who}: refused by the gateway: ${error.message}`);
    context.onEvent?.({
      kind: 'refused',
      sessionId: id,
      sqlState: error.sqlState ?? null,
      message: error.message,
    });
    bytes = error.bytes;
  } else {
    let sqlState: string = TUNNEL_SQLSTATE.connectionFailure;
    let message: string;
    let hint: string | undefined;
    if (error instanceof TunnelRefusal) {
      ({ sqlState, message, hint } = error);
    } else if (error instanceof TunnelWireError) {
      ({ sqlState, message } = error);
    } else if (error instanceof ScramError) {
      message = `The gateway's SCRAM login failed: ${error.message}`;
    } else {
      message = `The tunnel failed: ${messageOf(error)}`;
    }
    context.log(`${who}: refused (${sqlState}): ${message}`);
    context.onEvent?.({ kind: 'refused', sessionId: id, sqlState, message });
    bytes = encodeFatalError(sqlState, message, hint);
  }
  if (client.destroyed || !client.writable) client.destroy();
  else if (bytes) client.end(bytes);
  else client.end();
  // A client that never reads must not keep the socket.
  setTimeout(() => client.destroy(), 1_000).unref();
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
