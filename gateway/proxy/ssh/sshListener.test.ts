/**
 * The listener's defences that need no target: silent and slow peers are cut at the login
 * deadline, refused tickets say why, and guessing is bounded per connection. (Sessions through
 * a real sshd are in test/integration/sshGateway.test.ts.)
 */

import { connect } from 'node:net';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../../shared/ssh/sshKeyPair.ts';
import { GatewayError } from '../../gatewayError.ts';
import { silentLogger } from '../../logger.ts';
import type { LiveSessions } from '../../sessions/liveSessions.ts';
import { MemoryRecorderFactory } from './fixtures/memoryRecorder.ts';
import { type RunningSshListener, startSshListener } from './sshListener.ts';

const hostKey = { privateKey: generateEd25519KeyPair().private };
let listener: RunningSshListener | undefined;
let redeemAttempts = 0;

afterEach(async () => {
  await listener?.close();
  listener = undefined;
  redeemAttempts = 0;
});

async function start(loginTimeoutMs: number): Promise<RunningSshListener> {
  listener = await startSshListener({
    host: '127.0.0.1',
    port: 0,
    hostKey,
    sessions: {
      redeemTicket: async () => {
        redeemAttempts += 1;
        throw new GatewayError(
          'unauthenticated',
          'The session ticket is not valid — start a new session.',
        );
      },
      terminate: async () => {
        throw new Error('not expected');
      },
    },
    resources: { credentialFor: async () => null },
    recorders: new MemoryRecorderFactory(),
    liveSessions: {} as LiveSessions, // never reached: no ticket is accepted here
    log: silentLogger,
    loginTimeoutMs,
  });
  return listener;
}

function closedWithin(ms: number, open: (done: () => void) => void): Promise<number> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${ms} ms`)), ms);
    open(() => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
  });
}

describe('the SSH listener', () => {
  it('cuts a peer that connects and never speaks, at the login deadline', async () => {
    const running = await start(300);
    const elapsed = await closedWithin(3_000, (done) => {
      const socket = connect(running.port, '127.0.0.1');
      socket.on('error', () => {});
      socket.on('close', done);
      socket.resume(); // read (the server's banner, then its close); never write
    });
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(running.connectionCount()).toBe(0);
  });

  it('cuts a peer that completes the handshake but never logs in', async () => {
    const running = await start(400);
    await closedWithin(5_000, (done) => {
      const client = new ssh2.Client();
      client.on('error', () => {});
      client.on('close', done);
      // No auth method that could succeed: the client just waits after its first failure.
      client.connect({
        host: '127.0.0.1',
        port: running.port,
        username: 'ses_abc',
        authHandler: (_methodsLeft, _partial, next) => {
          if (_methodsLeft === null) next({ type: 'none', username: 'ses_abc' });
        },
      });
    });
  });

  it('refuses a wrong ticket with the reason, and bounds the guesses per connection', async () => {
    const running = await start(10_000);
    const instructions: string[] = [];
    let answered = 0;
    const error = await new Promise<Error>((resolve) => {
      const client = new ssh2.Client();
      client.on('ready', () => resolve(new Error('logged in?')));
      client.on('error', resolve);
      client.on('close', () => resolve(new Error('connection closed')));
      let attempts = 0;
      client.connect({
        host: '127.0.0.1',
        port: running.port,
        username: 'ses_abc',
        // Keep guessing far past the limit.
        authHandler: (_methodsLeft, _partial, next) => {
          attempts += 1;
          if (attempts > 20) return next(false as never);
          next({
            type: 'keyboard-interactive',
            username: 'ses_abc',
            prompt: (_name, text, _lang, prompts, finish) => {
              instructions.push(text);
              answered += 1;
              finish(prompts.map(() => 'wtk_guess'));
            },
          });
        },
      });
    });
    expect(error.message).not.toBe('logged in?');
    expect(instructions).toContain(
      'Access refused: The session ticket is not valid — start a new session.',
    );
    // Six attempts at most, then the connection is dropped.
    expect(redeemAttempts).toBeLessThanOrEqual(6);
    expect(answered).toBeGreaterThan(0);
  });
});
