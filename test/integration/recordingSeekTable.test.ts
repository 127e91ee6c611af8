/**
 * Issue #16 on the gateway, over real HTTPS on both stores (SQLite + segment files, PostgreSQL
 * + database chunks): a recording's seek table and byte ranges of its stream, through the
 * GatewayClient methods the desktop uses. Every stretch the table names, fetched by range,
 * verifies on its own against the gateway's key; the table and the ranges are visible to whom
 * the recording is, and a range read is audited like the stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../gateway/newId.ts';
import { GatewayApiError, GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { eventKinds, RecordingReader } from '../../shared/recording/recordingFormat.ts';
import { stretchRange } from '../../shared/recording/seekTable.ts';
import { StretchVerifier } from '../../shared/recording/verifyStretch.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';
import { describeWithPostgres, freshPostgresDatabase } from '../harness/postgresForTests.ts';

describe('recording seek table API (sqlite store, segment files)', () =>
  describeSeekTableApi(async () => undefined));
describeWithPostgres('recording seek table API (postgres store, database chunks)', () =>
  describeSeekTableApi(freshPostgresDatabase),
);

async function bytesOf(download: { body: AsyncIterable<unknown> }): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of download.body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function describeSeekTableApi(databaseUrl: () => Promise<string | undefined>): void {
  let gw: TestGateway;
  let alice: GatewayClient;
  let bob: GatewayClient;
  const sessionId = newId('ses');

  const signedIn = async (username: string, password: string) => {
    const accessToken = await gw.login(username, password);
    return new GatewayClient(
      { baseUrl: gw.gateway.apiUrl, caPem: gw.gateway.services.keys.caPem },
      { tokens: () => ({ accessToken, refreshToken: 'unused' }), tokensRefreshed: () => {} },
    );
  };

  beforeAll(async () => {
    gw = await startTestGateway({ databaseUrl: await databaseUrl() });
    const aliceId = await gw.createUser('alice', 'engineer', 'alice-password-1');
    await gw.createUser('bob', 'engineer', 'bob-password-1');
    await gw.createUser('admin', 'admin', 'admin-password-1');
    alice = await signedIn('alice', 'alice-password-1');
    bob = await signedIn('bob', 'bob-password-1');
    const admin = await signedIn('admin', 'admin-password-1');
    const resourceId = (
      await admin.createResource({
        name: 'web-1',
        target: { kind: 'ssh', host: '127.0.0.1', username: 'deploy' },
      })
    ).id;
    admin.close();
    const { recorder } = gw.gateway.services;
    const session = await recorder.start({
      sessionId,
      userId: aliceId,
      resourceId,
      protocol: 'ssh',
    });
    await session.appendJson(1, eventKinds.meta, { type: 'pty-req', cols: 80, rows: 24 });
    // Three bursts a little over a second apart: the recorder checkpoints each (every second).
    for (let burst = 0; burst < 3; burst++) {
      for (let line = 0; line < 50; line++) {
        gw.clock.advance(10);
        await session.append(1, eventKinds.output, Buffer.from(`burst ${burst} line ${line}\r\n`));
      }
      await new Promise((resolve) => setTimeout(resolve, 1200));
    }
    await session.close();
  }, 60_000);

  afterAll(async () => {
    alice?.close();
    bob?.close();
    await gw?.close();
  });

  // Under load a checkpoint can lag (frames written during its sync precede its record) and
  // the next one start right after it, covering exactly those frames; the table used to start
  // the stretch after that one before the lagging record, which then failed (fixed in
  // SeekTableScanner; every such pattern in verifyStretch.test.ts). A failing stretch prints
  // its verdict and the table.
  it('names every checkpoint, and each stretch fetched by range verifies on its own', async () => {
    const whole = await bytesOf(await alice.downloadRecording(sessionId));
    const table = await alice.getRecordingSeekTable(sessionId);
    // What the table says, checked against a reading of the whole stream.
    const checkpoints: { seq: number; offset: number }[] = [];
    for (const record of new RecordingReader().push(whole)) {
      if (record.type === 'checkpoint') {
        checkpoints.push({ seq: record.checkpoint.seq, offset: record.offset });
      }
    }
    expect(checkpoints.length).toBeGreaterThanOrEqual(3);
    expect(table.points.map((p) => ({ seq: p.seq, offset: p.offset }))).toEqual(checkpoints);
    expect(table.bytes).toBe(whole.length);
    expect(table.points.at(-1)?.final).toBe(true);
    const header = new RecordingReader().push(whole.subarray(0, table.headerBytes))[0];
    if (header?.type !== 'header') throw new Error('no header');
    const publicKeyPem = gw.gateway.services.keys.recordingKey.publicKeyPem;
    let covered = 0;
    for (let index = 0; index < table.points.length; index++) {
      const range = stretchRange(table, index);
      const bytes = await bytesOf(
        await alice.downloadRecordingRange(sessionId, range.from, range.to),
      );
      expect(bytes.equals(whole.subarray(range.from, range.to))).toBe(true);
      const verifier = new StretchVerifier({
        publicKeyPem,
        sessionId,
        range,
        header: header.header,
      });
      verifier.push(bytes);
      const verdict = verifier.finish();
      if (verdict.status !== 'verified') {
        console.error(
          `[seek table] stretch ${index} ${JSON.stringify(range)}: ${JSON.stringify(verdict)}; table ${JSON.stringify(table.points)}`,
        );
      }
      expect(verdict.status).toBe('verified');
      expect(verdict.afterSeq).toBe(covered);
      covered = verdict.throughSeq;
    }
    expect(covered).toBe(table.frames);
  });

  it('shows the table and ranges only to whom the recording is visible, and audits ranges', async () => {
    await expect(bob.getRecordingSeekTable(sessionId)).rejects.toMatchObject({ status: 404 });
    await expect(bob.downloadRecordingRange(sessionId, 0, 100)).rejects.toBeInstanceOf(
      GatewayApiError,
    );
    await expect(alice.downloadRecordingRange(sessionId, 100, 100)).rejects.toMatchObject({
      status: 400,
    });
    const before = (await gw.gateway.services.store.listRecordingAccess({ sessionId, limit: 100 }))
      .length;
    await bytesOf(await alice.downloadRecordingRange(sessionId, 0, 64));
    const after = await gw.gateway.services.store.listRecordingAccess({ sessionId, limit: 100 });
    expect(after.length).toBe(before + 1);
  });
}
