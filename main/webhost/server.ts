/**
 * The browser composition root (CONVENTIONS.md, "Wire each process in one place"): serves the
 * built renderer and the DesktopApi contract over a WebSocket, on 127.0.0.1 only.
 *
 * Who may talk to it: a page that (1) was loaded from this host's own origin — checked on the
 * Host header of every request (DNS rebinding) and the Origin header of the WebSocket upgrade
 * (other pages on this machine) — and (2) holds the per-launch secret, which only the printed
 * URL's fragment carries. Every call then goes through the same dispatcher as Electron's IPC.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { CallerContext, CallHandlers, EventSender } from '../ipc/contract.ts';
import { createDispatcher } from '../ipc/dispatcher.ts';
import { createDesktopApp } from '../services/desktopApp.ts';
import { launchSecretMatches, secretFromProtocols } from './launchSecret.ts';
import { parseEventPayload } from './parseEventPayload.ts';
import {
  BRIDGE_SUBPROTOCOL,
  CLOSE_CODES,
  IPC_PATH,
  MAX_MESSAGE_BYTES,
  parseClientMessage,
  type ServerMessage,
} from './protocol.ts';
import { serveStatic } from './staticFiles.ts';

/** What the web host needs from the desktop services (main/services/desktopApp.ts's DesktopApp). */
export interface WebHostApp {
  handlers: CallHandlers;
  onBroadcast(listener: EventSender): () => void;
  clientDisconnected(clientId: string): void;
  dispose(): Promise<void>;
}

export interface WebHostOptions {
  /** The services; the host disposes them when it closes. */
  app: WebHostApp;
  /** The built renderer (dist/renderer). */
  rendererDir: string;
  /** 0 picks a free port (tests). */
  port?: number;
  /** Tests may fix the secret; otherwise 32 random bytes per launch. */
  secret?: Buffer;
  log?: (line: string) => void;
  /**
   * A connection that has not answered a ping within this long is dropped, so a tab that hung
   * (or a laptop that slept) does not keep its terminals open forever. Default 30 s.
   */
  heartbeatMs?: number;
}

export interface WebHost {
  /** `http://127.0.0.1:PORT/#token=…` — the only way in; print it, do not log it elsewhere. */
  url: string;
  /** The same URL without the secret. */
  origin: string;
  port: number;
  /** Closes every connection and the server, then disposes the app. */
  close(): Promise<void>;
}

export async function startWebHost(options: WebHostOptions): Promise<WebHost> {
  const { app } = options;
  const log = options.log ?? (() => {});
  const secret = options.secret ?? randomBytes(32);
  const dispatcher = createDispatcher(app.handlers, {
    logUnexpected: (name, error) =>
      log(
        `call ${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
      ),
  });

  // The port is known only after listen(), and the headers and origin checks need it.
  let port = 0;
  const origin = () => `http://127.0.0.1:${port}`;
  const hostAllowed = (host: string | undefined) =>
    host === `127.0.0.1:${port}` || host === `localhost:${port}`;

  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (!hostAllowed(request.headers.host)) {
      response.writeHead(421, { 'content-type': 'text/plain; charset=utf-8' });
      response.end('Misdirected request: this host serves only 127.0.0.1.\n');
      return;
    }
    serveStatic(options.rendererDir, request, response, port).catch((error: unknown) => {
      log(`static ${request.url}: ${String(error)}`);
      if (!response.headersSent) response.writeHead(500);
      response.end();
    });
  });

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE_BYTES,
    // Select the protocol name, never the secret, so the secret is not echoed in the response.
    handleProtocols: (protocols) =>
      protocols.has(BRIDGE_SUBPROTOCOL) ? BRIDGE_SUBPROTOCOL : false,
  });
  const sockets = new Set<WebSocket>();
  /** Sockets that answered the last ping (ws answers pings itself; a hung page cannot). */
  const alive = new WeakSet<WebSocket>();
  const heartbeat = setInterval(() => {
    for (const ws of sockets) {
      if (!alive.has(ws)) {
        log('a client did not answer a ping: dropping it');
        ws.terminate();
        continue;
      }
      alive.delete(ws);
      ws.ping();
    }
  }, options.heartbeatMs ?? 30_000);
  heartbeat.unref();
  const send = (socket: WebSocket, message: ServerMessage) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  };
  const emitTo =
    (socket: WebSocket): EventSender =>
    (name, payload) =>
      send(socket, { type: 'event', name, payload: parseEventPayload(name, payload) });
  const stopBroadcast = app.onBroadcast((name, payload) => {
    const message = JSON.stringify({
      type: 'event',
      name,
      payload: parseEventPayload(name, payload),
    });
    for (const socket of sockets) if (socket.readyState === socket.OPEN) socket.send(message);
  });

  server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (request.url ?? '').split('?')[0];
    const refusal =
      path !== IPC_PATH
        ? '404 Not Found'
        : !hostAllowed(request.headers.host)
          ? '421 Misdirected Request'
          : request.headers.origin !== origin()
            ? '403 Forbidden'
            : null;
    if (refusal) {
      log(
        `refused WebSocket upgrade (${refusal}) from origin ${request.headers.origin ?? '(none)'}`,
      );
      socket.end(`HTTP/1.1 ${refusal}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    const offered = secretFromProtocols(request.headers['sec-websocket-protocol']);
    const secretOk = launchSecretMatches(offered, secret);
    wss.handleUpgrade(request, socket, head, (ws) => {
      if (!secretOk) {
        // Completing the handshake first lets the page show why (an HTTP refusal reaches the
        // browser as a bare code 1006); nothing from this socket is ever read.
        ws.close(
          CLOSE_CODES.badSecret,
          'Wrong or missing launch secret: open the URL npm start printed.',
        );
        return;
      }
      accept(ws);
    });
  });

  function accept(ws: WebSocket) {
    const caller: CallerContext = { clientId: randomUUID(), emit: emitTo(ws) };
    sockets.add(ws);
    alive.add(ws);
    ws.on('pong', () => alive.add(ws));
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        ws.close(CLOSE_CODES.unsupportedData, 'Binary frames are not part of the protocol.');
        return;
      }
      const message = parseClientMessage(data.toString());
      if (!message) {
        ws.close(CLOSE_CODES.badMessage, 'Malformed message: expected a JSON call.');
        return;
      }
      void dispatcher
        .dispatch(message.name, message.request, caller)
        .then((outcome) => send(ws, { type: 'result', id: message.id, outcome }));
    });
    // maxPayload overruns and protocol errors arrive here; ws closes the socket itself (1009…).
    ws.on('error', (error) => log(`client ${caller.clientId}: ${error.message}`));
    ws.on('close', () => {
      sockets.delete(ws);
      app.clientDisconnected(caller.clientId);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | null = null;
  return {
    url: `${origin()}/#token=${secret.toString('base64url')}`,
    origin: origin(),
    port,
    close() {
      closing ??= (async () => {
        stopBroadcast();
        clearInterval(heartbeat);
        for (const ws of sockets) ws.close(CLOSE_CODES.goingAway, 'The Witness web host stopped.');
        await new Promise<void>((resolve) => {
          wss.close(() => resolve());
        });
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await app.dispose();
      })();
      return closing;
    },
  };
}

export interface DesktopWebHostOptions {
  /** The user's app-data folder for the desktop (profile, secrets file, local gateway data). */
  dataDir: string;
  port: number;
  secretStore: 'auto' | 'memory';
  rendererDir: string;
  /** bin/witness-gateway.mjs, for the embedded local gateway. */
  gatewayBin: string;
  log: (line: string) => void;
}

/** The real thing: the desktop services (main/services/desktopApp.ts) behind the web host. */
export async function startDesktopWebHost(options: DesktopWebHostOptions): Promise<WebHost> {
  const app = await createDesktopApp({
    appDataDir: options.dataDir,
    secretStore: options.secretStore,
    gatewayBin: options.gatewayBin,
    useLocalGatewayWhenNoneEnrolled: true,
    log: options.log,
  });
  try {
    return await startWebHost({
      app,
      rendererDir: options.rendererDir,
      port: options.port,
      log: options.log,
    });
  } catch (error) {
    await app.dispose();
    throw error;
  }
}
