/**
 * Ends a session the CLI opened, once its client is gone. Normally the gateway ends it by
 * itself when the connection closes, with the reason it saw (the client disconnected, the
 * target exited), and that reason is the better record: after a normal exit the gateway gets
 * `graceMs` to do so before the CLI asks. After a signal or an error there is nothing to wait
 * for — the ticket may never have been used, or the client was killed mid-way — so the CLI asks
 * at once (`POST /v1/sessions/:id/terminate`). Either way it is bounded by `timeoutMs`, so an
 * unreachable gateway cannot hold a Ctrl+C'd command open.
 */
import type { Writable } from 'node:stream';
import type { CreateSessionResponse } from '../../shared/api/apiSchemas.ts';
import type { GatewayClient } from '../gatewayClient.ts';
import { type SignalSource, StopSignals, signalExitCode } from './stopSignals.ts';

export type SessionEnder = Pick<GatewayClient, 'getSession' | 'terminateSession'>;

export interface EndSessionOptions {
  /** How long the gateway gets to end the session itself (0: ask at once). */
  graceMs: number;
  /** The whole call, waiting included. */
  timeoutMs?: number;
  pollMs?: number;
}

/** Resolves with nothing once the session is ended, or with why it could not be checked. */
export async function endSessionAtGateway(
  client: SessionEnder,
  sessionId: string,
  options: EndSessionOptions,
): Promise<string | undefined> {
  const { graceMs, timeoutMs = 3_000, pollMs = 100 } = options;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
  });
  const ending = (async () => {
    const deadline = Date.now() + graceMs;
    while (graceMs > 0) {
      if ((await client.getSession(sessionId)).state === 'ended') return undefined;
      if (Date.now() >= deadline) break;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    // Ending an ended session changes nothing at the gateway, so a race here is harmless.
    await client.terminateSession(sessionId);
    return undefined;
  })().catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
  try {
    return await Promise.race([ending, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Opens a session on `resourceId`, runs the client `run` starts with it, and ends the session
 * at the gateway afterwards whatever happened (a note on stderr if that could not be checked).
 * Stop signals are held from before the session exists until it is ended, so there is always
 * something left to undo only while it is being undone; a signal other than SIGINT (which the
 * interactive client handles itself) turns into the shell's exit code for it.
 */
export async function withGatewaySession(
  client: SessionEnder & Pick<GatewayClient, 'createSession'>,
  resourceId: string,
  io: { stderr: Writable; signals?: SignalSource },
  run: (session: CreateSessionResponse, stop: StopSignals) => Promise<number>,
): Promise<number> {
  const stop = new StopSignals(io.signals);
  try {
    const session = await client.createSession(resourceId);
    let failed = true;
    try {
      const code = await run(session, stop);
      failed = false;
      return stop.received && stop.received !== 'SIGINT' ? signalExitCode(stop.received) : code;
    } finally {
      const problem = await endSessionAtGateway(client, session.sessionId, {
        graceMs: failed || stop.received ? 0 : 1_000,
      });
      if (problem) {
        io.stderr.write(
          `witness: note: could not end session ${session.sessionId} at the gateway (${problem}); it ends when the gateway sees the connection close.\n`,
        );
      }
    }
  } finally {
    stop.dispose();
  }
}
