/**
 * Logs in to the gateway's SSH listener with a session ticket and opens a shell with a pty
 * (DESIGN.md "Launch a session": username = session id, password = ticket).
 *
 * - The gateway's host key is checked against the one it published over the pinned TLS API
 *   (`/v1/keys`); a different key is refused before any secret is sent.
 * - keyboard-interactive is tried first because a refused ticket's reason comes back in its
 *   instructions ("Access refused: the grant was revoked…", sshListener.ts askForTicket);
 *   password is used only when the server does not offer keyboard-interactive. The ticket is
 *   single-use, so it is never sent twice.
 */
import ssh2, {
  type AuthenticationType,
  type Client,
  type ClientChannel,
  type KeyboardInteractiveCallback,
  type Prompt,
} from 'ssh2';
import {
  limitReceiveWindow,
  openWithReceiveWindow,
  type ReceiveWindow,
} from '../../../shared/ssh/sshReceiveWindow.ts';
import { DesktopError } from '../../ipc/contract.ts';

/**
 * The shell channel's receive window (issue #5). ssh2's 2 MiB window plus 2 MiB of stream
 * buffer let ~4 MiB of output sit between the gateway and main while the renderer catches up,
 * and a key's echo waits behind all of it. The renderer paints a few MB/s, so 128 KiB of
 * window (+ 32 KiB buffered per stream) is tens of ms of output — enough to keep main supplied
 * across a resume (a loopback/LAN round trip), small enough that echo stays live.
 */
export const TERMINAL_RECEIVE_WINDOW: ReceiveWindow = {
  windowBytes: 128 * 1024,
  bufferBytes: 32 * 1024,
};

export interface GatewayShellTarget {
  host: string;
  port: number;
  sessionId: string;
  ticket: string;
  /** OpenSSH public key line (`ssh-ed25519 AAAA…`) the gateway must present. */
  gatewayHostKey: string;
  resourceName: string;
}

export interface GatewayShell {
  client: Client;
  channel: ClientChannel;
}

export interface GatewayShellOptions {
  cols: number;
  rows: number;
  /** Terminal type announced in pty-req (what xterm.js emulates). */
  term?: string;
  readyTimeoutMs?: number;
  /** Defaults to TERMINAL_RECEIVE_WINDOW. */
  receiveWindow?: ReceiveWindow;
}

export async function openGatewayShell(
  target: GatewayShellTarget,
  options: GatewayShellOptions,
): Promise<GatewayShell> {
  const client = await connect(target, options.readyTimeoutMs ?? 15_000);
  try {
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      const onClose = () =>
        reject(
          new DesktopError(
            'gateway_error',
            `The gateway closed the connection before the shell on ${target.resourceName} opened.`,
          ),
        );
      client.once('close', onClose);
      const receiveWindow = options.receiveWindow ?? TERMINAL_RECEIVE_WINDOW;
      openWithReceiveWindow(client, receiveWindow, () =>
        client.shell(
          { term: options.term ?? 'xterm-256color', cols: options.cols, rows: options.rows },
          (error, channel) => {
            client.off('close', onClose);
            if (error) {
              reject(
                new DesktopError(
                  'gateway_error',
                  `The gateway refused to open a shell on ${target.resourceName}: ${error.message}.`,
                ),
              );
            } else {
              limitReceiveWindow(channel, receiveWindow);
              resolve(channel);
            }
          },
        ),
      );
    });
    return { client, channel };
  } catch (error) {
    client.end();
    throw error;
  }
}

function connect(target: GatewayShellTarget, readyTimeoutMs: number): Promise<Client> {
  const expectedKey = hostKeyBlob(target.gatewayHostKey);
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let hostKeyRejected = false;
    let refusal: string | undefined;
    let ticketSent = false;
    let settled = false;
    const fail = (error: DesktopError) => {
      if (settled) return;
      settled = true;
      client.end();
      reject(error);
    };
    client.once('ready', () => {
      // onError stays attached (a no-op once settled): an 'error' without a listener would
      // throw; the terminal adds its own handler.
      settled = true;
      resolve(client);
    });
    const onError = (error: Error & { level?: string; code?: string }) => {
      if (hostKeyRejected) {
        fail(
          new DesktopError(
            'gateway_certificate_mismatch',
            `The gateway's SSH listener at ${target.host}:${target.port} presented a host key ` +
              'other than the one the gateway published; the connection was refused and no ticket ' +
              'was sent. Check that nothing intercepts connections to the gateway.',
          ),
        );
      } else if (error.level === 'client-authentication') {
        fail(
          new DesktopError(
            'forbidden',
            refusal ??
              `The gateway refused the session ticket for ${target.resourceName}; start the session again.`,
          ),
        );
      } else if (error.level === 'client-timeout') {
        fail(
          new DesktopError(
            'gateway_unreachable',
            `The gateway's SSH listener at ${target.host}:${target.port} did not answer in time.`,
          ),
        );
      } else {
        fail(
          new DesktopError(
            'gateway_unreachable',
            `Could not connect to the gateway's SSH listener at ${target.host}:${target.port}: ${error.message}.`,
          ),
        );
      }
    };
    client.on('error', onError);
    client.once('close', () =>
      fail(
        new DesktopError(
          'gateway_unreachable',
          `The gateway's SSH listener at ${target.host}:${target.port} closed the connection during login.`,
        ),
      ),
    );
    const answer = (
      instructions: string,
      prompts: Prompt[],
      finish: KeyboardInteractiveCallback,
    ) => {
      if (/access refused/i.test(instructions)) {
        refusal = instructions.replace(/^Access refused:\s*/i, '').trim() || instructions;
      }
      if (!ticketSent && prompts.length > 0) {
        ticketSent = true;
        finish([target.ticket, ...prompts.slice(1).map(() => '')]);
      } else {
        finish(prompts.map(() => ''));
      }
    };
    client.connect({
      host: target.host,
      port: target.port,
      username: target.sessionId,
      readyTimeout: readyTimeoutMs,
      keepaliveInterval: 15_000,
      keepaliveCountMax: 4,
      hostVerifier: (key: Buffer) => {
        const matches = expectedKey !== undefined && key.equals(expectedKey);
        if (!matches) hostKeyRejected = true;
        return matches;
      },
      authHandler: (methodsLeft, _partialSuccess, next) => {
        if (ticketSent) return next(NO_MORE_METHODS);
        // methodsLeft is null before the first attempt (the server has not listed any yet).
        if (methodsLeft === null || methodsLeft.includes('keyboard-interactive')) {
          return next({
            type: 'keyboard-interactive',
            username: target.sessionId,
            prompt: (_name, instructions, _lang, prompts, finish) =>
              answer(instructions, prompts, finish),
          });
        }
        if (methodsLeft.includes('password')) {
          ticketSent = true;
          return next({ type: 'password', username: target.sessionId, password: target.ticket });
        }
        return next(NO_MORE_METHODS);
      },
    });
  });
}

/**
 * ssh2 stops authenticating when the handler answers `false` (client.js doNextAuth); its type
 * definitions leave that value out.
 */
const NO_MORE_METHODS = false as unknown as AuthenticationType;

/** The key blob of an OpenSSH public key line; undefined when the line is malformed. */
function hostKeyBlob(line: string): Buffer | undefined {
  const base64 = line.trim().split(/\s+/)[1];
  if (!base64) return undefined;
  const blob = Buffer.from(base64, 'base64');
  return blob.length > 0 ? blob : undefined;
}
