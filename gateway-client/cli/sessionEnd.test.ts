import { describe, expect, it } from 'vitest';
import { endSessionAtGateway, type SessionEnder } from './sessionEnd.ts';

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
