/**
 * The recordings API over real HTTPS on loopback, on both store backends (SQLite with segment
 * files, PostgreSQL with database chunks). Recordings are fed through the gateway's own
 * recorder, as a proxy would: list and filters, who sees what, the raw stream byte for byte,
 * .cast and bundle exports, and the audit trail of who read which recording.
 */
import https from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../gateway/newId.ts';
import type { SessionRecorder } from '../../gateway/recorder/sessionRecorder.ts';
import { verifyBundle } from '../../shared/recording/recordingBundle.ts';
import { eventKinds } from '../../shared/recording/recordingFormat.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';
import { describeWithPostgres, freshPostgresDatabase } from '../harness/postgresForTests.ts';

describe('recordings API (sqlite store, segment files)', () =>
  describeRecordingsApi('sqlite', async () => undefined));
describeWithPostgres('recordings API (postgres store, database chunks)', () =>
  describeRecordingsApi('postgres', freshPostgresDatabase),
);

interface BinaryResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

function describeRecordingsApi(
  kind: 'sqlite' | 'postgres',
  databaseUrl: () => Promise<string | undefined>,
): void {
  let gw: TestGateway;
  const tokens: Record<'admin' | 'alice' | 'bob' | 'audrey', string> = {
    admin: '',
    alice: '',
    bob: '',
    audrey: '',
  };
  let adminId: string;
  let aliceId: string;
  let bobId: string;
  let audreyId: string;
  let webId: string;
  let dbId: string;
  /** alice's ssh session (complete), bob's ssh session (complete), alice's db session (live). */
  const ids = { aliceSsh: newId('ses'), bobSsh: newId('ses'), aliceDb: newId('ses') };
  let live: SessionRecorder;

  /** GET with the body as raw bytes (the harness's request decodes bodies as UTF-8). */
  const getBytes = (urlPath: string, token?: string) =>
    new Promise<BinaryResponse>((resolve, reject) => {
      const request = https.request(
        new URL(urlPath, gw.gateway.apiUrl),
        {
          method: 'GET',
          ca: gw.gateway.services.keys.caPem,
          servername: 'localhost',
          headers: token ? { authorization: `Bearer ${token}` } : {},
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () =>
            resolve({
              status: response.statusCode ?? 0,
              headers: response.headers,
              body: Buffer.concat(chunks),
            }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end();
    });

  const storedBytes = async (sessionId: string) => {
    const row = await gw.gateway.services.store.getRecording(sessionId);
    if (!row) throw new Error(`no recording ${sessionId}`);
    const chunks: Buffer[] = [];
    for await (const chunk of gw.gateway.services.recordings.open(row)) chunks.push(chunk);
    return Buffer.concat(chunks);
  };

  const list = async (who: keyof typeof tokens, query = '') => {
    const response = await gw.request('GET', `/v1/recordings${query}`, { token: tokens[who] });
    expect(response.status, response.text).toBe(200);
    return (response.json.recordings as { sessionId: string }[]).map((r) => r.sessionId);
  };

  beforeAll(async () => {
    gw = await startTestGateway({ databaseUrl: await databaseUrl() });
    adminId = await gw.createUser('root', 'admin', 'admin-password-1');
    aliceId = await gw.createUser('alice', 'engineer', 'alice-password-1');
    bobId = await gw.createUser('bob', 'engineer', 'bob-password-1');
    audreyId = await gw.createUser('audrey', 'auditor', 'audrey-password-1');
    tokens.admin = await gw.login('root', 'admin-password-1');
    tokens.alice = await gw.login('alice', 'alice-password-1');
    tokens.bob = await gw.login('bob', 'bob-password-1');
    tokens.audrey = await gw.login('audrey', 'audrey-password-1');
    const web = await gw.request('POST', '/v1/resources', {
      token: tokens.admin,
      body: { name: 'web-1', target: { kind: 'ssh', host: '127.0.0.1', username: 'deploy' } },
    });
    webId = web.json.id;
    const db = await gw.request('POST', '/v1/resources', {
      token: tokens.admin,
      body: {
        name: 'orders-db',
        target: { kind: 'postgres', host: '127.0.0.1', database: 'orders', username: 'app' },
      },
    });
    dbId = db.json.id;

    const { recorder } = gw.gateway.services;
    const a = await recorder.start({
      sessionId: ids.aliceSsh,
      userId: aliceId,
      resourceId: webId,
      protocol: 'ssh',
    });
    // As the SSH proxy writes them (FORMAT.md §5–6): session events on channel 0, the
    // terminal on channel 1.
    await a.appendJson(0, eventKinds.meta, { type: 'session-start', user: 'alice' });
    await a.appendJson(1, eventKinds.meta, { type: 'channel-open', channelType: 'session' });
    await a.appendJson(1, eventKinds.meta, {
      type: 'pty-req',
      term: 'xterm-256color',
      cols: 100,
      rows: 30,
      width: 0,
      height: 0,
    });
    await a.append(1, eventKinds.input, Buffer.from('ls\r'));
    gw.clock.advance(250);
    await a.append(1, eventKinds.output, Buffer.from('file1  file2\r\n\u00e9t\u00e9\r\n'));
    await a.append(1, eventKinds.output, Buffer.from([0xff, 0x00, 0x80])); // not UTF-8: stream is bytes
    await a.appendJson(1, eventKinds.resize, { cols: 120, rows: 40, width: 0, height: 0 });
    await a.appendJson(1, eventKinds.exit, { code: 0 });
    await a.close();

    gw.clock.advance(60_000);
    const b = await recorder.start({
      sessionId: ids.bobSsh,
      userId: bobId,
      resourceId: webId,
      protocol: 'ssh',
    });
    await b.append(1, eventKinds.output, Buffer.from("bob's secret output\r\n"));
    await b.close();

    gw.clock.advance(60_000);
    live = await recorder.start({
      sessionId: ids.aliceDb,
      userId: aliceId,
      resourceId: dbId,
      protocol: 'postgres',
    });
    await live.appendJson(0, eventKinds.query, { text: 'select 1' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('lists newest first: engineers their own, auditors and admins everything', async () => {
    expect(await list('admin')).toEqual([ids.aliceDb, ids.bobSsh, ids.aliceSsh]);
    expect(await list('audrey')).toEqual([ids.aliceDb, ids.bobSsh, ids.aliceSsh]);
    expect(await list('alice')).toEqual([ids.aliceDb, ids.aliceSsh]);
    expect(await list('bob')).toEqual([ids.bobSsh]);
    // Asking for someone else's does not widen an engineer's view: it matches nothing.
    expect(await list('alice', `?userId=${bobId}`)).toEqual([]);
    expect(await list('alice', '?username=bob')).toEqual([]);
    expect(await list('alice', `?userId=${aliceId}`)).toEqual([ids.aliceDb, ids.aliceSsh]);

    const response = await gw.request('GET', '/v1/recordings', { token: tokens.alice });
    const [db, ssh] = response.json.recordings;
    expect(ssh).toEqual({
      sessionId: ids.aliceSsh,
      userId: aliceId,
      username: 'alice',
      resourceId: webId,
      resourceName: 'web-1',
      protocol: 'ssh',
      status: 'complete',
      startedAt: expect.any(String),
      endedAt: expect.any(String),
      frames: 8,
      bytes: (await storedBytes(ids.aliceSsh)).length,
      lastCheckpointSeq: 8,
      lastVerification: null,
    });
    expect(db).toMatchObject({ status: 'recording', endedAt: null, resourceName: 'orders-db' });
  });

  it('filters by user, resource, status, protocol, time and limit', async () => {
    const startedB = (await gw.gateway.services.store.getRecording(ids.bobSsh))?.startedAt ?? 0;
    expect(await list('admin', `?userId=${bobId}`)).toEqual([ids.bobSsh]);
    expect(await list('admin', '?username=bob')).toEqual([ids.bobSsh]);
    expect(await list('admin', '?username=nobody')).toEqual([]);
    expect(await list('admin', `?resourceId=${webId}`)).toEqual([ids.bobSsh, ids.aliceSsh]);
    expect(await list('admin', '?status=complete')).toEqual([ids.bobSsh, ids.aliceSsh]);
    expect(await list('admin', '?status=recording')).toEqual([ids.aliceDb]);
    expect(await list('admin', '?protocol=postgres')).toEqual([ids.aliceDb]);
    const from = new Date(startedB).toISOString();
    const to = new Date(startedB + 1).toISOString();
    expect(await list('admin', `?from=${from}`)).toEqual([ids.aliceDb, ids.bobSsh]);
    expect(await list('admin', `?to=${to}`)).toEqual([ids.bobSsh, ids.aliceSsh]);
    expect(await list('admin', '?limit=1')).toEqual([ids.aliceDb]);

    for (const bad of ['?limit=0', '?status=deleted', '?from=yesterday', '?owner=x']) {
      const response = await gw.request('GET', `/v1/recordings${bad}`, { token: tokens.admin });
      expect(response.status, bad).toBe(400);
      expect(response.json.code).toBe('bad_request');
    }
    expect((await gw.request('GET', '/v1/recordings')).status).toBe(401);
  });

  it('shows one recording with its verification, and others only to those who may see them', async () => {
    const own = await gw.request('GET', `/v1/recordings/${ids.aliceSsh}`, { token: tokens.alice });
    expect(own.status).toBe(200);
    expect(own.json.verification).toEqual({
      status: 'verified',
      verifiedThroughSeq: 8,
      firstBadSeq: null,
      message: expect.stringContaining('all 8 frames'),
    });

    const othersBob = await gw.request('GET', `/v1/recordings/${ids.bobSsh}`, {
      token: tokens.alice,
    });
    expect(othersBob.status).toBe(404);
    expect(othersBob.json.message).toBe(
      `There is no recording of session ${ids.bobSsh} you can see.`,
    );
    const audited = await gw.request('GET', `/v1/recordings/${ids.bobSsh}`, {
      token: tokens.audrey,
    });
    expect(audited.status).toBe(200);
    expect(audited.json.verification.status).toBe('verified');

    const stillLive = await gw.request('GET', `/v1/recordings/${ids.aliceDb}`, {
      token: tokens.admin,
    });
    expect(stillLive.json.verification.status).toBe('partial');

    const unknown = await gw.request('GET', '/v1/recordings/ses_nosuchsession', {
      token: tokens.admin,
    });
    expect(unknown.status).toBe(404);
  });

  it('streams the stored bytes exactly, to those who may see them, and audits it', async () => {
    const stream = await getBytes(`/v1/recordings/${ids.aliceSsh}/stream`, tokens.alice);
    expect(stream.status).toBe(200);
    expect(stream.headers['content-type']).toBe('application/octet-stream');
    expect(stream.body.equals(await storedBytes(ids.aliceSsh))).toBe(true);
    expect(stream.body.subarray(0, 8).toString()).toBe('WTNSREC2');

    const denied = await getBytes(`/v1/recordings/${ids.bobSsh}/stream`, tokens.alice);
    expect(denied.status).toBe(404);
    expect(JSON.parse(denied.body.toString()).code).toBe('not_found');
    expect(denied.body.toString()).not.toContain('secret');
    const anonymous = await getBytes(`/v1/recordings/${ids.aliceSsh}/stream`);
    expect(anonymous.status).toBe(401);
    const badToken = await getBytes(`/v1/recordings/${ids.aliceSsh}/stream`, 'wat_forged');
    expect(badToken.status).toBe(401);

    const auditor = await getBytes(`/v1/recordings/${ids.bobSsh}/stream`, tokens.audrey);
    expect(auditor.body.equals(await storedBytes(ids.bobSsh))).toBe(true);
  });

  it('exports a terminal channel as asciicast v2', async () => {
    const cast = await getBytes(`/v1/recordings/${ids.aliceSsh}/export?format=cast`, tokens.alice);
    expect(cast.status, cast.body.toString()).toBe(200);
    expect(cast.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(cast.headers['content-disposition']).toBe(`attachment; filename="${ids.aliceSsh}.cast"`);
    const lines = cast.body
      .toString('utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ version: 2, width: 100, height: 30 });
    // Output only by default: what was typed (here `ls`) may hold unechoed secrets.
    expect(lines.slice(1)).toEqual([
      [0.25, 'o', 'file1  file2\r\n\u00e9t\u00e9\r\n'],
      [0.25, 'o', '\ufffd\u0000\ufffd'],
      [0.25, 'r', '120x40'],
    ]);
    const withInput = await getBytes(
      `/v1/recordings/${ids.aliceSsh}/export?format=cast&includeInput=1`,
      tokens.alice,
    );
    expect(withInput.status, withInput.body.toString()).toBe(200);
    expect(
      withInput.body
        .toString('utf8')
        .trimEnd()
        .split('\n')
        .slice(1)
        .map((l) => JSON.parse(l)),
    ).toEqual([[0, 'i', 'ls\r'], ...lines.slice(1)]);

    const channel = await getBytes(
      `/v1/recordings/${ids.aliceSsh}/export?format=cast&channel=1`,
      tokens.admin,
    );
    expect(channel.headers['content-disposition']).toBe(
      `attachment; filename="${ids.aliceSsh}-ch1.cast"`,
    );
    expect(channel.body.equals(cast.body)).toBe(true);
    const empty = await getBytes(
      `/v1/recordings/${ids.aliceSsh}/export?format=cast&channel=7`,
      tokens.admin,
    );
    expect(empty.status).toBe(404);
    expect(JSON.parse(empty.body.toString()).message).toMatch(/Nothing to export as \.cast/);

    const database = await getBytes(
      `/v1/recordings/${ids.aliceDb}/export?format=cast`,
      tokens.alice,
    );
    expect(database.status).toBe(400);
    for (const bad of [
      '?format=mp4',
      '',
      '?format=cast&channel=-1',
      '?format=cast&x=1',
      '?format=cast&includeInput=yes',
    ]) {
      const response = await getBytes(`/v1/recordings/${ids.aliceSsh}/export${bad}`, tokens.alice);
      expect(response.status, bad).toBe(400);
    }
  });

  it('exports a signed bundle that verifies offline with only the public key', async () => {
    gw.clock.advance(1000); // so the audit's newest-first order is unambiguous below
    const bundle = await getBytes(
      `/v1/recordings/${ids.bobSsh}/export?format=bundle`,
      tokens.audrey,
    );
    expect(bundle.status).toBe(200);
    expect(bundle.headers['content-type']).toBe('application/octet-stream');
    expect(bundle.headers['content-disposition']).toBe(
      `attachment; filename="${ids.bobSsh}.wbundle"`,
    );
    expect(bundle.body.subarray(0, 10).toString()).toBe('WTNSBNDL1\n');
    const report = await verifyBundle(bundle.body, {
      publicKeyPem: gw.gateway.services.keys.recordingKey.publicKeyPem,
    });
    expect(report).toMatchObject({ ok: true, status: 'verified', sessionId: ids.bobSsh });
    expect(report.bundle?.meta).toMatchObject({ userId: bobId, exportedBy: 'audrey' });

    const denied = await getBytes(
      `/v1/recordings/${ids.bobSsh}/export?format=bundle`,
      tokens.alice,
    );
    expect(denied.status).toBe(404);
  });

  it('audits every read of a recording: who, which, how, when — and no refused attempt', async () => {
    const { store } = gw.gateway.services;
    const actions = async (sessionId: string) =>
      (await store.listRecordingAccess({ sessionId, limit: 100 }))
        .map((a) => `${a.userId}:${a.action}`)
        .sort();
    expect(await actions(ids.aliceSsh)).toEqual(
      [
        `${aliceId}:stream`,
        // Output only, then with typed input.
        `${aliceId}:export_cast`,
        `${aliceId}:export_cast`,
        // The admin's two cast exports: the attempt on an empty channel counts too, as it was
        // allowed and read the recording.
        `${adminId}:export_cast`,
        `${adminId}:export_cast`,
      ].sort(),
    );
    expect(await actions(ids.bobSsh)).toEqual(
      [`${audreyId}:stream`, `${audreyId}:export_bundle`].sort(),
    );
    // alice's refused reads of bob's recording, her .cast of a database session and her
    // malformed export requests never reached a recording, so they left no row.
    expect(await actions(ids.aliceDb)).toEqual([]);
    const [latest] = await store.listRecordingAccess({ userId: audreyId, limit: 1 });
    expect(latest).toMatchObject({
      sessionId: ids.bobSsh,
      action: 'export_bundle',
      at: gw.clock.now(),
      id: expect.stringMatching(/^acc_/),
    });
  });

  it('stores recordings where the deployment keeps them', async () => {
    const row = await gw.gateway.services.store.getRecording(ids.aliceSsh);
    expect(row?.storage).toBe(kind === 'sqlite' ? 'segments' : 'database');
    expect(live.sessionId).toBe(ids.aliceDb);
  });
}
