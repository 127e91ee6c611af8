import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { CreateSessionResponse } from '../../shared/api/apiSchemas.ts';
import { endSessionAtGateway, type SessionEnder, withGatewaySession } from './sessionEnd.ts';

/** An in-memory stand-in for the two API calls, recording what was asked. */
function gatewayWith(endsItselfAfterChecks: number | null) {
  const calls: string[] = [];
  let checks = 0;
  const client = {
    getSession: async (id: string) => {
      calls.push(`get ${id}`);
      checks += 1;
      const ended = endsItselfAfterChecks !== null && checks >= endsItselfAfterChecks;
      return { state: ended ? 'ended' : 'live' };
    },
    terminateSession: async (id: string) => {
      calls.push(`terminate ${id}`);
      return { state: 'ended' };
    },
  } as unknown as SessionEnder;
  return { client, calls };
}

describe('endSessionAtGateway', () => {
  it('lets the gateway end the session itself after a normal exit', async () => {
    const { client, calls } = gatewayWith(2);
    expect(await endSessionAtGateway(client, 's1', { graceMs: 1_000, pollMs: 10 })).toBe(undefined);
    expect(calls).toEqual(['get s1', 'get s1']);
  });

  it('terminates when the gateway has not ended it within the grace time', async () => {
    const { client, calls } = gatewayWith(null);
    await endSessionAtGateway(client, 's2', { graceMs: 50, pollMs: 10 });
    expect(calls.at(-1)).toBe('terminate s2');
  });

  it('terminates at once after a signal or an error', async () => {
    const { client, calls } = gatewayWith(1);
    await endSessionAtGateway(client, 's3', { graceMs: 0 });
    expect(calls).toEqual(['terminate s3']);
  });

  it('gives up after timeoutMs and says why, so a dead gateway cannot hold the exit', async () => {
    const client = {
      getSession: () => new Promise(() => {}),
      terminateSession: () => new Promise(() => {}),
    } as unknown as SessionEnder;
    const started = Date.now();
    expect(await endSessionAtGateway(client, 's4', { graceMs: 0, timeoutMs: 100 })).toBe(
      'no answer within 0.1 s',
    );
    expect(Date.now() - started).toBeLessThan(2_000);
    const failing = {
      terminateSession: async () => {
        throw new Error('connection refused');
      },
    } as unknown as SessionEnder;
    expect(await endSessionAtGateway(failing, 's5', { graceMs: 0 })).toBe('connection refused');
  });
});

describe('withGatewaySession', () => {
  function bed() {
    const { client, calls } = gatewayWith(1);
    const withCreate = Object.assign(client, {
      createSession: async (resourceId: string) => {
        calls.push(`create ${resourceId}`);
        return { sessionId: 's9', ticket: 't' } as CreateSessionResponse;
      },
    });
    const signals = new EventEmitter();
    return { client: withCreate, calls, signals, io: { stderr: new PassThrough(), signals } };
  }

  it("returns the client's exit code and lets the gateway end the session", async () => {
    const { client, calls, io } = bed();
    expect(await withGatewaySession(client, 'r1', io, async () => 3)).toBe(3);
    expect(calls).toEqual(['create r1', 'get s9']);
  });

  it('terminates at once and rethrows when the client fails', async () => {
    const { client, calls, io } = bed();
    const failing = withGatewaySession(client, 'r1', io, async () => {
      throw new Error('no client');
    });
    await expect(failing).rejects.toThrow('no client');
    expect(calls).toEqual(['create r1', 'terminate s9']);
  });

  it('exits as the shell would for a SIGTERM received while the client ran, and gives the signals back', async () => {
    const { client, calls, io, signals } = bed();
    const code = await withGatewaySession(client, 'r1', io, async () => {
      signals.emit('SIGTERM', 'SIGTERM');
      return 0;
    });
    expect(code).toBe(143);
    expect(calls).toEqual(['create r1', 'terminate s9']);
    expect(signals.listenerCount('SIGTERM')).toBe(0);
  });
});
