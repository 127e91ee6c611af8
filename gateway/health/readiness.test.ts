import { describe, expect, it } from 'vitest';
import { GatewayError } from '../gatewayError.ts';
import { Readiness } from './readiness.ts';

const reached = async () => {};

async function refusal(readiness: Readiness): Promise<GatewayError> {
  const error = await readiness.check().then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof GatewayError)) throw new Error(`expected a GatewayError, got ${error}`);
  return error;
}

describe('Readiness (GET /v1/readyz, issue #17)', () => {
  it('is not ready while starting, ready once serving, and never again once draining', async () => {
    const readiness = new Readiness({ ping: reached, instanceId: 'gw_1' });
    const starting = await refusal(readiness);
    expect(starting.status).toBe(503);
    expect(starting.message).toMatch(/still starting/);

    readiness.markServing();
    await expect(readiness.check()).resolves.toEqual({ status: 'ready', instance: 'gw_1' });

    readiness.startDraining(1000);
    readiness.markServing(); // a late "serving" must not undo the drain
    expect(readiness.current).toEqual({ kind: 'draining', since: 1000 });
    expect((await refusal(readiness)).message).toMatch(/shutting down/);
  });

  it('is not ready when the store fails or does not answer in time', async () => {
    const failing = new Readiness({
      ping: () => Promise.reject(new Error('connection refused')),
      instanceId: 'gw_1',
    });
    failing.markServing();
    const down = await refusal(failing);
    expect(down.status).toBe(503);
    expect(down.message).toMatch(/cannot reach its database \(connection refused\)/);

    const hanging = new Readiness({
      ping: () => new Promise(() => {}),
      instanceId: 'gw_1',
      pingTimeoutMs: 50,
    });
    hanging.markServing();
    expect((await refusal(hanging)).message).toMatch(/no answer in 50 ms/);
  });
});
