/**
 * Issue #6 on the gateway, over real HTTPS on loopback and on both stores (SQLite + segment
 * files, PostgreSQL + database chunks): recordings fed through the gateway's own recorder are
 * indexed as they are written and found by search (commands rebuilt from keystrokes, queries,
 * ANSI-stripped output); who may search what; search, list paging and filters; the live
 * follow of a session as it records; and the audit rows all of that leaves. Through the
 * GatewayClient methods the desktop uses, plus raw requests where the client would hide an
 * answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGatewayCli } from '../../gateway/cli/gatewayCli.ts';
import { newId } from '../../gateway/newId.ts';
import type { SessionRecorder } from '../../gateway/recorder/sessionRecorder.ts';
import { GatewayApiError, GatewayClient } from '../../gateway-client/gatewayClient.ts';
import { eventKinds, RecordingReader } from '../../shared/recording/recordingFormat.ts';
import {
  startTestGateway,
  TEST_SEALING_KEY_BASE64,
  type TestGateway,
} from '../harness/gatewayForTests.ts';
import { describeWithPostgres, freshPostgresDatabase } from '../harness/postgresForTests.ts';
import { waitFor } from '../harness/waitFor.ts';

describe('recording search API (sqlite store, segment files)', () =>
  describeSearchApi(async () => undefined));
describeWithPostgres('recording search API (postgres store, database chunks)', () =>
  describeSearchApi(freshPostgresDatabase),
);

function describeSearchApi(databaseUrl: () => Promise<string | undefined>): void {
  let gw: TestGateway;
  const clients: Record<'admin' | 'alice' | 'bob' | 'audrey', GatewayClient> = {} as never;
  const userIds: Record<string, string> = {};
  let webId: string;
  let dbId: string;
  const ids = { alice: newId('ses'), bob: newId('ses'), db: newId('ses') };
  let started: number;
  let dbUrl: string | undefined;

  const signedIn = async (username: string, password: string) => {
    const accessToken = await gw.login(username, password);
    return new GatewayClient(
      { baseUrl: gw.gateway.apiUrl, caPem: gw.gateway.services.keys.caPem },
      { tokens: () => ({ accessToken, refreshToken: 'unused' }), tokensRefreshed: () => {} },
    );
  };

  beforeAll(async () => {
    dbUrl = await databaseUrl();
    gw = await startTestGateway({ databaseUrl: dbUrl });
    for (const [name, role] of [
      ['admin', 'admin'],
      ['alice', 'engineer'],
      ['bob', 'engineer'],
      ['audrey', 'auditor'],
    ] as const) {
      userIds[name] = await gw.createUser(name, role, `${name}-password-1`);
      clients[name] = await signedIn(name, `${name}-password-1`);
    }
    webId = (
      await clients.admin.createResource({
        name: 'web-1',
        target: { kind: 'ssh', host: '127.0.0.1', username: 'deploy' },
      })
    ).id;
    dbId = (
      await clients.admin.createResource({
        name: 'orders-db',
        target: { kind: 'postgres', host: '127.0.0.1', database: 'orders', username: 'app' },
      })
    ).id;

    const { recorder } = gw.gateway.services;
    started = gw.clock.now();
    // alice at a prompt: a typo fixed with Backspace, a line killed with ^U, arrow keys.
    const a = await recorder.start({
      sessionId: ids.alice,
      userId: userIds.alice as string,
      resourceId: webId,
      protocol: 'ssh',
    });
    await a.appendJson(1, eventKinds.meta, { type: 'pty-req', term: 'xterm', cols: 80, rows: 24 });
    await a.append(1, eventKinds.input, Buffer.from('rm -rf /oops\u0015'));
    gw.clock.advance(1500);
    await a.append(1, eventKinds.input, Buffer.from('sudo systemctl restrat'));
    await a.append(1, eventKinds.input, Buffer.from('\u007f\u007f\u007fart nginx\u001b[A\r'));
    gw.clock.advance(100);
    await a.append(
      1,
      eventKinds.output,
      Buffer.from(
        '\u001b[1;31mJob for nginx.service failed\u001b[0m because the control process exited\r\n',
      ),
    );
    await a.close();
    // bob: the same words, so visibility shows.
    const b = await recorder.start({
      sessionId: ids.bob,
      userId: userIds.bob as string,
      resourceId: webId,
      protocol: 'ssh',
    });
    await b.appendJson(1, eventKinds.meta, { type: 'exec', command: 'systemctl status nginx' });
    await b.close();
    // a database session: a query and a blocked statement.
    gw.clock.advance(1000);
    const d = await recorder.start({
      sessionId: ids.db,
      userId: userIds.alice as string,
      resourceId: dbId,
      protocol: 'postgres',
    });
    await d.appendJson(0, eventKinds.query, {
      protocol: 'simple',
      sql: 'SELECT email FROM customers WHERE id = 42',
    });
    await d.appendJson(0, eventKinds.blocked, {
      sql: 'DROP TABLE invoices',
      rule: 'no-drop',
      reason: 'DDL is blocked',
    });
    await d.close();
  });

  afterAll(async () => {
    for (const client of Object.values(clients)) client?.close();
    await gw?.close();
  });

  it('finds a command rebuilt from keystrokes, with where it happened and what matched', async () => {
    const result = await clients.alice.searchRecordings({ q: 'restart nginx' });
    expect(result.nextCursor).toBeNull();
    expect(result.hits).toHaveLength(1);
    const [hit] = result.hits;
    expect(hit).toMatchObject({
      sessionId: ids.alice,
      kind: 'command',
      channel: 1,
      snippet: 'sudo systemctl restart nginx',
      highlights: [
        [15, 22],
        [23, 28],
      ],
      username: 'alice',
      resourceName: 'web-1',
      protocol: 'ssh',
    });
    // The Enter came 1.5 s into the session; seq points at the frame that carried it.
    expect(hit?.t).toBe(1500);
    expect(hit?.seq).toBe(4);
    // The killed line and the typo are not what was run.
    expect((await clients.alice.searchRecordings({ q: 'oops' })).hits).toEqual([]);
    expect((await clients.alice.searchRecordings({ q: 'restrat' })).hits).toEqual([]);
  });

  it('searches output without its escape sequences, and SQL of queries and blocked statements', async () => {
    const output = await clients.audrey.searchRecordings({ q: 'nginx service failed' });
    expect(output.hits.map((h) => [h.sessionId, h.kind, h.snippet])).toEqual([
      [ids.alice, 'output', 'Job for nginx.service failed because the control process exited'],
    ]);
    const queries = await clients.audrey.searchRecordings({ q: 'customers' });
    expect(queries.hits.map((h) => [h.kind, h.snippet])).toEqual([
      ['query', 'SELECT email FROM customers WHERE id = 42'],
    ]);
    const blocked = await clients.audrey.searchRecordings({ q: 'drop invoices' });
    expect(blocked.hits.map((h) => h.kind)).toEqual(['query']);
  });

  it('shows engineers only their own recordings; auditors all, with the list filters', async () => {
    const sessions = async (client: GatewayClient, q: string, extra = {}) => [
      ...new Set((await client.searchRecordings({ q, ...extra })).hits.map((h) => h.sessionId)),
    ];
    expect(await sessions(clients.alice, 'nginx')).toEqual([ids.alice]);
    // Asking for bob's recordings does not widen what alice sees: it matches nothing.
    expect(await sessions(clients.alice, 'nginx', { userId: userIds.bob })).toEqual([]);
    expect(await sessions(clients.alice, 'nginx', { username: 'bob' })).toEqual([]);
    expect(await sessions(clients.alice, 'nginx', { username: 'alice' })).toEqual([ids.alice]);
    expect(await sessions(clients.bob, 'nginx')).toEqual([ids.bob]);
    expect(await sessions(clients.audrey, 'nginx')).toEqual([ids.bob, ids.alice]);
    expect(await sessions(clients.audrey, 'nginx', { userId: userIds.alice })).toEqual([ids.alice]);
    // By name, as support staff search: a name, or a name no one has.
    expect(await sessions(clients.audrey, 'nginx', { username: 'bob' })).toEqual([ids.bob]);
    expect(await sessions(clients.audrey, 'nginx', { username: 'nobody-here' })).toEqual([]);
    expect(
      await sessions(clients.audrey, 'nginx', { username: 'bob', userId: userIds.alice }),
    ).toEqual([]);
    expect(await sessions(clients.audrey, 'nginx', { protocol: 'postgres' })).toEqual([]);
    expect(await sessions(clients.audrey, 'email', { resourceId: dbId })).toEqual([ids.db]);
    const after = new Date(started + 2000).toISOString();
    expect(await sessions(clients.audrey, 'nginx', { from: after })).toEqual([]);
  });

  it('pages search hits with the cursor, and refuses a query without words or a forged cursor', async () => {
    const all = await clients.audrey.searchRecordings({ q: 'nginx' });
    expect(all.hits.length).toBe(3);
    const first = await clients.audrey.searchRecordings({ q: 'nginx', limit: 2 });
    expect(first.hits).toHaveLength(2);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await clients.audrey.searchRecordings({
      q: 'nginx',
      limit: 2,
      cursor: first.nextCursor as string,
    });
    expect(second.nextCursor).toBeNull();
    expect([...first.hits, ...second.hits]).toEqual(all.hits);

    const noWords = await gw.request('GET', '/v1/recordings/search?q=%2F%2F%20--', {
      token: await gw.login('audrey', 'audrey-password-1'),
    });
    expect(noWords.status).toBe(400);
    expect(noWords.json.message).toMatch(/no words to search for/);
    await expect(
      clients.audrey.searchRecordings({ q: 'nginx', cursor: 'bm90IGEgY3Vyc29y' }),
    ).rejects.toMatchObject({ status: 400, code: 'bad_request' });
    await expect(
      clients.audrey.listRecordingsPage({ cursor: first.nextCursor as string }),
    ).rejects.toBeInstanceOf(GatewayApiError);
  });

  it('audits every search with what was asked, before answering', async () => {
    gw.clock.advance(10); // the newest audit row is this search's
    await clients.bob.searchRecordings({ q: 'Secret Project', protocol: 'ssh' });
    const [row] = await gw.gateway.services.store.listRecordingAccess({
      userId: userIds.bob as string,
      limit: 1,
    });
    expect(row).toMatchObject({ sessionId: null, action: 'search' });
    expect(JSON.parse(row?.detail as string)).toEqual({ q: 'Secret Project', protocol: 'ssh' });
  });

  it('lets auditors and admins read the access trail, engineers not', async () => {
    gw.clock.advance(10);
    await clients.audrey.downloadRecording(ids.alice).then((d) => d.body.resume());
    const entries = await clients.admin.listRecordingAccess({ sessionId: ids.alice, limit: 5 });
    expect(entries[0]).toMatchObject({
      sessionId: ids.alice,
      userId: userIds.audrey,
      username: 'audrey',
      action: 'stream',
      detail: null,
    });
    const searches = await clients.audrey.listRecordingAccess({ userId: userIds.bob });
    expect(searches.length).toBeGreaterThan(0);
    expect(searches.every((e) => e.action === 'search' && e.sessionId === null)).toBe(true);
    await expect(clients.alice.listRecordingAccess({})).rejects.toMatchObject({ status: 403 });
  });

  it('pages the recording list with a cursor and filters by the last verification', async () => {
    const all = await clients.audrey.listRecordingsPage({});
    expect(all.recordings.map((r) => r.sessionId)).toEqual([ids.db, ids.bob, ids.alice]);
    expect(all.nextCursor).toBeNull();
    const page1 = await clients.audrey.listRecordingsPage({ limit: 2 });
    const page2 = await clients.audrey.listRecordingsPage({
      limit: 2,
      cursor: page1.nextCursor as string,
    });
    expect([...page1.recordings, ...page2.recordings].map((r) => r.sessionId)).toEqual(
      all.recordings.map((r) => r.sessionId),
    );
    expect(page2.nextCursor).toBeNull();
    // The older call still answers a plain array, and takes the cursor too.
    expect(
      (await clients.audrey.listRecordings({ cursor: page1.nextCursor as string })).length,
    ).toBe(1);

    // Bob's recording was neither opened nor read since the gateway's pass at its start (before
    // it existed), so nothing has verified it yet.
    const verifiedIds = async () =>
      (await clients.audrey.listRecordingsPage({ status: 'verified' })).recordings.map(
        (r) => r.sessionId,
      );
    expect(await verifiedIds()).not.toContain(ids.bob);
    const viewed = await clients.audrey.getRecording(ids.bob);
    expect(viewed.verification?.status).toBe('verified');
    const verified = await clients.audrey.listRecordingsPage({ status: 'verified' });
    const bob = verified.recordings.find((r) => r.sessionId === ids.bob);
    expect(bob?.lastVerification).toMatchObject({ status: 'verified', verifiedThroughSeq: 1 });
    expect(bob?.lastVerification?.checkedAt).toBe(bob?.lastVerification?.at);
  });

  it('follows a live session for auditors, audited, until it ends; refuses engineers', async () => {
    const sessionId = newId('ses');
    const live: SessionRecorder = await gw.gateway.services.recorder.start({
      sessionId,
      userId: userIds.alice as string,
      resourceId: webId,
      protocol: 'ssh',
    });
    await live.append(1, eventKinds.output, Buffer.from('before the watch\r\n'));

    await expect(clients.alice.followRecording(sessionId)).rejects.toMatchObject({
      status: 403,
      code: 'forbidden',
    });

    const download = await clients.audrey.followRecording(sessionId);
    const reader = new RecordingReader();
    const outputs: string[] = [];
    const received: Buffer[] = [];
    let ended = false;
    download.body.on('data', (chunk: Buffer) => {
      received.push(chunk);
      for (const record of reader.push(chunk)) {
        if (record.type === 'frame' && record.event.kind === eventKinds.output) {
          outputs.push(Buffer.from(record.event.data).toString('utf8'));
        }
      }
    });
    const done = new Promise<void>((resolve, reject) => {
      download.body.on('end', () => {
        ended = true;
        resolve();
      });
      download.body.on('error', reject);
    });
    await waitFor(async () => outputs.includes('before the watch\r\n'), 'the earlier output');
    // Written after the watch began: it arrives while the session goes on.
    await live.append(1, eventKinds.output, Buffer.from('during the watch\r\n'));
    await waitFor(async () => outputs.includes('during the watch\r\n'), 'the new output');
    expect(ended).toBe(false);
    await live.close();
    await done;
    // Everything, byte for byte, including the final checkpoint.
    const row = await gw.gateway.services.store.getRecording(sessionId);
    const stored: Buffer[] = [];
    for await (const chunk of gw.gateway.services.recordings.open(row as never)) stored.push(chunk);
    expect(Buffer.concat(received).equals(Buffer.concat(stored))).toBe(true);

    const access = await gw.gateway.services.store.listRecordingAccess({ sessionId, limit: 10 });
    expect(access.map((a) => [a.action, a.userId])).toEqual([['live', userIds.audrey]]);
  });

  it('indexes a session while it records, at its checkpoints, not only at its end', async () => {
    const sessionId = newId('ses');
    const live = await gw.gateway.services.recorder.start({
      sessionId,
      userId: userIds.alice as string,
      resourceId: webId,
      protocol: 'ssh',
    });
    try {
      await live.appendJson(1, eventKinds.meta, {
        type: 'pty-req',
        term: 'xterm',
        cols: 80,
        rows: 24,
      });
      await live.append(1, eventKinds.input, Buffer.from('journalctl --unit witnessprobe\r'));
      const hit = await waitFor(async () => {
        const { hits } = await clients.audrey.searchRecordings({ q: 'witnessprobe' });
        return hits[0];
      }, 'the command to be indexed while the session records');
      expect(hit).toMatchObject({ sessionId, kind: 'command' });
      expect((await gw.gateway.services.store.getRecording(sessionId))?.status).toBe('recording');
    } finally {
      await live.close();
    }
  });

  it("rebuilds a recording's index from its bytes (witness-gateway admin reindex-recordings)", async () => {
    const { store } = gw.gateway.services;
    const before = await store.listRecordingText(ids.alice);
    expect(before.map((e) => e.kind)).toEqual(['command', 'output']);
    await store.deleteRecordingText(ids.alice);
    expect((await clients.audrey.searchRecordings({ q: 'restart nginx' })).hits).toEqual([]);
    const stderr: string[] = [];
    const code = await runGatewayCli(
      [
        'admin',
        'reindex-recordings',
        '--data',
        gw.dataDir,
        ...(dbUrl ? ['--database-url', dbUrl] : []),
        '--session',
        ids.alice,
      ],
      {
        stdout: () => {},
        stderr: (text) => stderr.push(text),
        readStdin: async () => '',
        env: dbUrl ? { WITNESS_SEALING_KEY: TEST_SEALING_KEY_BASE64 } : {},
        untilStopped: () => new Promise(() => {}),
      },
    );
    expect(code, stderr.join('')).toBe(0);
    expect(stderr.join('')).toMatch(/Re-indexed 1 recordings \(2 text entries\)/);
    expect(await store.listRecordingText(ids.alice)).toEqual(before);
    const [hit] = (await clients.audrey.searchRecordings({ q: 'restart nginx' })).hits;
    expect(hit).toMatchObject({ sessionId: ids.alice, kind: 'command', seq: 4, t: 1500 });
  });

  it('finds a query by one of its constants, also once its recording is re-indexed', async () => {
    // The query is stored as its shape; the 42 is the occurrence's own (issue #11).
    const byConstant = async () =>
      (await clients.audrey.searchRecordings({ q: '42' })).hits.map((h) => [
        h.sessionId,
        h.kind,
        h.snippet,
        h.highlights,
        h.seq,
      ]);
    const found = await byConstant();
    expect(found).toEqual([
      [ids.db, 'query', 'SELECT email FROM customers WHERE id = 42', [[39, 41]], found[0]?.[4]],
    ]);
    const { store } = gw.gateway.services;
    await store.deleteRecordingText(ids.db);
    expect(await byConstant()).toEqual([]);
    const stderr: string[] = [];
    const code = await runGatewayCli(
      [
        'admin',
        'reindex-recordings',
        '--data',
        gw.dataDir,
        ...(dbUrl ? ['--database-url', dbUrl] : []),
        '--session',
        ids.db,
      ],
      {
        stdout: () => {},
        stderr: (text) => stderr.push(text),
        readStdin: async () => '',
        env: dbUrl ? { WITNESS_SEALING_KEY: TEST_SEALING_KEY_BASE64 } : {},
        untilStopped: () => new Promise(() => {}),
      },
    );
    expect(code, stderr.join('')).toBe(0);
    expect(await byConstant()).toEqual(found);
  });

  it('audits a jsonl export as export_jsonl', async () => {
    const download = await clients.audrey.exportRecording(ids.db, { format: 'jsonl' });
    download.body.resume();
    await new Promise((resolve) => download.body.on('end', resolve));
    const [row] = await gw.gateway.services.store.listRecordingAccess({
      sessionId: ids.db,
      limit: 1,
    });
    expect(row?.action).toBe('export_jsonl');
  });
}

describe('live follow and gateway shutdown', () => {
  it('ends open follows when the gateway closes, instead of waiting for the session', async () => {
    const gw = await startTestGateway();
    let closed = false;
    try {
      await gw.createUser('root', 'admin', 'root-password-1');
      const accessToken = await gw.login('root', 'root-password-1');
      const admin = new GatewayClient(
        { baseUrl: gw.gateway.apiUrl, caPem: gw.gateway.services.keys.caPem },
        { tokens: () => ({ accessToken, refreshToken: 'unused' }), tokensRefreshed: () => {} },
      );
      const sessionId = newId('ses');
      const live = await gw.gateway.services.recorder.start({
        sessionId,
        userId: 'usr_x',
        resourceId: 'res_x',
        protocol: 'ssh',
      });
      await live.append(1, eventKinds.output, Buffer.from('still running'));
      const download = await admin.followRecording(sessionId);
      download.body.resume();
      const bodyDone = new Promise<void>((resolve) => {
        download.body.on('close', () => resolve());
        download.body.on('error', () => resolve());
      });
      // close() stops the API first, then the sessions: a follow waiting for the session to
      // end would hold it forever.
      const closing = gw.close().then(() => {
        closed = true;
      });
      await Promise.race([
        closing,
        new Promise((_, reject) =>
          setTimeout(
            () => reject(new Error('the gateway did not close with a follow open')),
            10_000,
          ),
        ),
      ]);
      await bodyDone;
      admin.close();
    } finally {
      if (!closed) await gw.close().catch(() => {});
    }
  });
});
