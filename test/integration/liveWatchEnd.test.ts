/**
 * A live watch says why it ended (issue #14): after the recording's last byte the gateway sends
 * a trailer — the session's end reason when the session ended, or why the watch was ended when
 * the watcher's access was taken away (disabled) — so the watcher reads a sentence, not a
 * closed stream. Real gateway over HTTPS, the real client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Download, GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { decodeWatchEnd, WATCH_END_TRAILER } from '../../shared/api/watchEnd.ts';
import { eventKinds } from '../../shared/recording/recordingFormat.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';

const PASSWORD = 'a-long-password-1';

/** Reads a download to its end and returns the watch-end trailer, decoded. */
async function endOf(download: Download) {
  download.body.resume();
  await new Promise<void>((resolve, reject) => {
    download.body.on('end', resolve);
    download.body.on('error', reject);
  });
  return decodeWatchEnd(download.trailers?.()[WATCH_END_TRAILER]);
}

describe('the end of a live watch', () => {
  let gw: TestGateway;
  const clients: GatewayClient[] = [];
  const ids: Record<string, string> = {};
  let resourceId = '';

  const clientOf = async (username: string) => {
    const accessToken = await gw.login(username, PASSWORD);
    const client = new GatewayClient(
      { baseUrl: gw.gateway.apiUrl, caPem: gw.gateway.services.keys.caPem },
      { tokens: () => ({ accessToken, refreshToken: 'unused' }), tokensRefreshed: () => {} },
    );
    clients.push(client);
    return client;
  };

  /** A session of erin's, opened through the API, with its recording left running. */
  const liveSession = async () => {
    const erin = await clientOf('erin');
    const { sessionId } = await erin.createSession(resourceId);
    const recorder = await gw.gateway.services.recorder.start({
      sessionId,
      userId: ids.erin as string,
      resourceId,
      protocol: 'ssh',
    });
    await recorder.append(1, eventKinds.output, Buffer.from('working\r\n'));
    return { sessionId, recorder };
  };

  beforeAll(async () => {
    gw = await startTestGateway();
    for (const [name, role] of [
      ['root', 'admin'],
      ['audra', 'auditor'],
      ['erin', 'engineer'],
    ] as const) {
      ids[name] = await gw.createUser(name, role, PASSWORD);
    }
    const root = await clientOf('root');
    resourceId = (
      await root.createResource({
        name: 'web-1',
        target: { kind: 'ssh', host: '127.0.0.1', port: 22, username: 'deploy' },
      })
    ).id;
    await root.createGrant({
      subject: { kind: 'user', userId: ids.erin as string },
      target: { kind: 'resource', resourceId },
      maxSessionSeconds: 3600,
    });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await gw?.close();
  });

  it("names the session's end reason when the session ends", async () => {
    const { sessionId, recorder } = await liveSession();
    const root = await clientOf('root');
    const watch = await root.followRecording(sessionId);
    const ending = endOf(watch);
    await root.call('terminateSession', {
      params: { id: sessionId },
      body: { reason: 'incident 7' },
    });
    // The proxy closes the recording when it ends the connection; here the test does.
    await recorder.close();
    expect(await ending).toEqual({
      kind: 'session-ended',
      message: 'The session ended: terminated by root: incident 7.',
    });
  });

  it("says the watch was ended when the watcher's account is disabled", async () => {
    const { recorder, sessionId } = await liveSession();
    const audra = await clientOf('audra');
    const watch = await audra.followRecording(sessionId);
    const ending = endOf(watch);
    const root = await clientOf('root');
    const revoked = await root.disableUser(ids.audra as string);
    expect(revoked.watchesEnded).toBe(1);
    expect(await ending).toEqual({
      kind: 'watch-ended',
      message: 'Watching ended: the account was disabled.',
    });
    await recorder.close();
  });
});
