/**
 * A refresh token used twice ends the sign-in (issue #12). The clients now renew under a lock
 * across processes so they never present a spent token themselves; that must not have been
 * bought by a gateway that forgives one. Whichever holder comes second, the whole token family
 * is ended: every access and refresh token of that sign-in, the ones issued to the first holder
 * included. Another sign-in of the same user lives on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';

const PASSWORD = 'alice-password-1';

describe('security: a replayed refresh token ends the sign-in', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
    await gw.createUser('alice', 'engineer', PASSWORD);
  });
  afterAll(async () => {
    await gw?.close();
  });

  const signIn = async () => {
    const answer = await gw.request('POST', '/v1/auth/login', {
      body: { username: 'alice', password: PASSWORD },
    });
    expect(answer.status).toBe(200);
    return answer.json as { accessToken: string; refreshToken: string };
  };
  const refresh = (refreshToken: string) =>
    gw.request('POST', '/v1/auth/refresh', { body: { refreshToken } });
  const me = (accessToken: string) => gw.request('GET', '/v1/me', { token: accessToken });

  // To the gateway the two holders look the same; whoever comes second, the thief or the person.
  it("ends the whole sign-in, the first holder's fresh pair included", async () => {
    const other = await signIn();
    const original = await signIn();
    // Both hold the same refresh token; one of them renews with it first.
    const first = await refresh(original.refreshToken);
    expect(first.status).toBe(200);
    const firstPair = first.json as { accessToken: string; refreshToken: string };

    const replay = await refresh(original.refreshToken);
    expect(replay.status).toBe(401);
    expect(replay.json).toMatchObject({ code: 'unauthenticated' });
    expect(replay.json.message).toMatch(/already refreshed elsewhere/);

    // Nothing of that sign-in works any more, whoever got the fresh pair.
    expect((await me(firstPair.accessToken)).status).toBe(401);
    expect((await refresh(firstPair.refreshToken)).status).toBe(401);
    expect((await me(original.accessToken)).status).toBe(401);
    // The user's other sign-in was not this token's: it lives on.
    expect((await me(other.accessToken)).status).toBe(200);
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });
});
