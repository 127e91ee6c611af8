/**
 * Replay in the desktop (issue #6) against a real in-process gateway over HTTPS, driven through
 * the dispatcher the Electron and web-host transports use: recordings written by the gateway's
 * own recorder, then opened, verified against the pinned key, played, sought, exported, opened
 * offline from a bundle, and watched live. The renderer side of the wire is captured and
 * searched for tokens at the end.
 */

import { randomBytes } from 'node:crypto';
import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newId } from '../../gateway/newId.ts';
import { MAX_BUNDLE_CHUNK_BYTES, type PlaybackEvent } from '../../main/ipc/contract.ts';
import type { DesktopApp } from '../../main/services/desktopApp.ts';
import { HeadlessTerminal } from '../../main/services/recordings/headlessTerminal.ts';
import { dataRowBody as row } from '../../shared/recording/fixtures/recordingFixture.ts';
import { type EventKind, eventKinds } from '../../shared/recording/recordingFormat.ts';
import {
  type DesktopForTest,
  desktopRejection,
  openDesktopForTest,
} from '../harness/desktopForTests.ts';
import { startTestGateway, type TestGateway } from '../harness/gatewayForTests.ts';
import { testEncryptor } from '../harness/testEncryptor.ts';
import { waitFor } from '../harness/waitFor.ts';

const ADMIN_PASSWORD = 'admin-password-1';
const ALICE_PASSWORD = 'alice-password-1';

interface Harness extends DesktopForTest {
  refreshToken(): Promise<string | null>;
}

describe('desktop replay against a real gateway', () => {
  let gw: TestGateway;
  let aliceId: string;
  let webId: string;
  const encryptor = testEncryptor();
  const dirs: string[] = [];
  const apps: DesktopApp[] = [];
  const wire: string[] = [];
  const tokensSeen = new Set<string>();

  async function openApp(clientId = 'window-1'): Promise<Harness> {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'witness-replay-'));
    dirs.push(dir);
    const harness = await openDesktopForTest({ dir, encryptor, wire, clientId });
    apps.push(harness.app);
    return {
      ...harness,
      refreshToken: async () => (await harness.storedSession())?.refreshToken ?? null,
    };
  }

  async function signedIn(username: string, password: string): Promise<Harness> {
    const h = await openApp();
    await h.call('gateway.pin', {
      url: gw.gateway.apiUrl,
      caFingerprint: gw.gateway.services.keys.caFingerprint,
    });
    await h.call('account.login', { username, password });
    const token = await h.refreshToken();
    if (token) tokensSeen.add(token);
    return h;
  }

  const rejection = desktopRejection;

  /** A GET of the gateway's raw bytes, as a person's browser or curl would get them. */
  const rawGet = (urlPath: string, token: string) =>
    new Promise<Buffer>((resolve, reject) => {
      const req = https.request(
        new URL(urlPath, gw.gateway.apiUrl),
        {
          method: 'GET',
          headers: { authorization: `Bearer ${token}` },
          ca: gw.gateway.services.keys.caPem,
          servername: 'localhost',
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            res.statusCode === 200
              ? resolve(Buffer.concat(chunks))
              : reject(new Error(`GET ${urlPath}: ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end();
    });

  async function record(
    protocol: 'ssh' | 'postgres',
    write: (
      append: (channel: number, kind: string, data: Buffer | string) => Promise<void>,
    ) => Promise<void>,
    options: { close?: boolean } = {},
  ) {
    const sessionId = newId('ses');
    const recorder = await gw.gateway.services.recorder.start({
      sessionId,
      userId: aliceId,
      resourceId: webId,
      protocol,
    });
    await write((channel, kind, data) =>
      recorder.append(
        channel,
        kind as (typeof eventKinds)[keyof typeof eventKinds],
        typeof data === 'string' ? Buffer.from(data) : data,
      ),
    );
    if (options.close !== false) await recorder.close();
    return { sessionId, recorder };
  }

  /** An interactive session: pty 100×30, a few commands with colour, a resize, 1.5 MB of output. */
  async function terminalSession() {
    return record('ssh', async (append) => {
      await append(0, eventKinds.meta, JSON.stringify({ type: 'session-start', user: 'alice' }));
      await append(1, eventKinds.meta, JSON.stringify({ type: 'pty-req', cols: 100, rows: 30 }));
      await append(1, eventKinds.meta, JSON.stringify({ type: 'shell' }));
      await append(1, eventKinds.output, '\x1b[1;32malice@web-1\x1b[0m:~$ ');
      for (const key of 'ls -lx') {
        gw.clock.advance(120);
        await append(1, eventKinds.input, key);
      }
      await append(1, eventKinds.input, '\x7fa\r');
      await append(1, eventKinds.output, '\r\ntotal 0\r\ndrwxr-x--- café ☕ 日本\r\n$ ');
      for (let round = 0; round < 30; round++) {
        gw.clock.advance(2_000);
        await append(1, eventKinds.input, `cat part-${round}.log\r`);
        let chunk = '';
        for (let line = 0; line < 400; line++) {
          chunk += `\x1b[3${line % 8}mround ${round} line ${line} ✓ ünïcödé\x1b[0m ${'x'.repeat(line % 60)}\r\n`;
        }
        // Split inside a multi-byte character, as a pty read would.
        const bytes = Buffer.from(chunk);
        const cut = bytes.indexOf(Buffer.from('✓')) + 1;
        await append(1, eventKinds.output, bytes.subarray(0, cut));
        gw.clock.advance(5);
        await append(1, eventKinds.output, bytes.subarray(cut));
        if (round === 12) {
          await append(1, eventKinds.resize, JSON.stringify({ cols: 120, rows: 40 }));
          await append(1, eventKinds.output, '\x1b[2J\x1b[Hcleared after resize\r\n');
        }
        await append(1, eventKinds.output, `\x1b[1mdone ${round}\x1b[0m\r\n$ `);
      }
      await append(1, eventKinds.input, 'exit\r');
      await append(1, eventKinds.exit, JSON.stringify({ code: 0 }));
    });
  }

  beforeAll(async () => {
    gw = await startTestGateway();
    await gw.createUser('root', 'admin', ADMIN_PASSWORD);
    aliceId = await gw.createUser('alice', 'engineer', ALICE_PASSWORD);
    const admin = await gw.login('root', ADMIN_PASSWORD);
    tokensSeen.add(admin);
    const web = await gw.request('POST', '/v1/resources', {
      token: admin,
      body: {
        name: 'web-1',
        labels: {},
        target: { kind: 'ssh', host: '127.0.0.1', port: 22, username: 'deploy' },
        secret: { password: 'target-password' },
      },
    });
    webId = web.json.id;
  });

  afterAll(async () => {
    for (const app of apps) await app.dispose();
    await gw?.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('opens a verified recording: verdict first, then frames, commands, sizes, activity', async () => {
    const { sessionId } = await terminalSession();
    const h = await signedIn('alice', ALICE_PASSWORD);
    const list = await h.call('recordings.list', { limit: 10 });
    expect(list.recordings.map((r) => r.sessionId)).toContain(sessionId);
    expect(list.nextCursor).toBeNull();
    // Support staff filter by who ran it, by name: an admin finds alice's, alice finds no one else's.
    const root = await signedIn('root', ADMIN_PASSWORD);
    const byName = await root.call('recordings.list', { filters: { user: 'alice' } });
    expect(byName.recordings.map((r) => r.sessionId)).toContain(sessionId);
    expect(new Set(byName.recordings.map((r) => r.username))).toEqual(new Set(['alice']));
    expect(
      (await root.call('recordings.list', { filters: { user: 'nobody' } })).recordings,
    ).toEqual([]);
    expect((await h.call('recordings.list', { filters: { user: 'root' } })).recordings).toEqual([]);

    const info = await h.call('recordings.open', { sessionId });
    expect(info.verdict).toMatchObject({
      status: 'verified',
      firstBadSeq: null,
      keySource: 'pinned',
    });
    expect(info.verdict.recordingKeyFingerprint).toMatch(/^SHA256:/);
    expect(info).toMatchObject({
      kind: 'terminal',
      source: 'gateway',
      size: { cols: 100, rows: 30 },
      username: 'alice',
      resourceName: 'web-1',
    });
    expect(info.resizes).toEqual([{ t: expect.any(Number), cols: 120, rows: 40 }]);
    expect(info.commands.map((c) => c.text)).toEqual([
      'ls -la',
      ...Array.from({ length: 30 }, (_, i) => `cat part-${i}.log`),
      'exit',
    ]);
    expect(info.durationMs).toBeGreaterThan(60_000);
    expect(info.keyframeTimes.length).toBeGreaterThanOrEqual(2);
    expect(h.events.some((e) => e.name === 'playback.progress')).toBe(true);

    const first = await h.call('playback.frames', {
      playbackId: info.playbackId,
      fromMs: 0,
      toMs: 2_000,
      includeInput: true,
    });
    expect(first.events[0]).toMatchObject({
      kind: 'output',
      data: '\x1b[1;32malice@web-1\x1b[0m:~$ ',
    });
    expect(
      first.events
        .filter((e) => e.kind === 'input')
        .map((e) => e.data)
        .join(''),
    ).toBe('ls -lx\x7fa\r');
    expect(first.events.map((e) => e.data).join('')).toContain('café ☕ 日本');

    // Every frame, page by page within the size bound: the text is the recording's exactly,
    // including characters split between two frames.
    const all = await allFrames(h, info.playbackId, 0, info.durationMs + 1);
    const output = all
      .filter((e) => e.kind === 'output')
      .map((e) => e.data)
      .join('');
    expect(output).toContain('round 7 line 399 ✓ ünïcödé');
    expect(output).not.toContain('\ufffd');
    // The activity graph counts every output byte once.
    expect(info.activity.reduce((a, b) => a + b, 0)).toBe(Buffer.byteLength(output));
    expect(info.activity.length).toBe(Math.ceil((info.durationMs + 1) / info.activityBucketMs));
    expect(all.filter((e) => e.kind === 'resize')).toEqual([
      expect.objectContaining({ size: { cols: 120, rows: 40 } }),
    ]);
    expect(all.at(-1)?.kind).toBe('exit');

    // Re-opened from the verified cache (index and keyframes kept beside it): the same playback.
    await h.app.playbacks?.keyframesOf(info.playbackId)?.build();
    await h.call('playback.close', { playbackId: info.playbackId });
    expect(
      (
        await rejection(
          h.call('playback.frames', { playbackId: info.playbackId, fromMs: 0, toMs: 1 }),
        )
      ).code,
    ).toBe('not_found');
    const again = await h.call('recordings.open', { sessionId });
    expect({ ...again, playbackId: '' }).toEqual({ ...info, playbackId: '' });
    expect(await allFrames(h, again.playbackId, 0, info.durationMs + 1)).toEqual(all);
    const cached = path.join(h.dir, 'recordings-cache');
    const files = (await fs.readdir(cached, { recursive: true })).map(String);
    expect(
      files.filter((f) => /stream\.wrec$|verdict\.json$|index\.json$|keyframes\.json$/.test(f)),
    ).toHaveLength(4);
  });

  async function allFrames(h: Harness, playbackId: string, fromMs: number, toMs: number) {
    const events: PlaybackEvent[] = [];
    let fromSeq: number | undefined;
    for (;;) {
      const page = await h.call('playback.frames', {
        playbackId,
        fromMs,
        toMs,
        ...(fromSeq === undefined ? {} : { fromSeq }),
      });
      expect(page.events.reduce((n, e) => n + e.data.length, 0)).toBeLessThanOrEqual(128 * 1024);
      events.push(...page.events);
      if (page.nextFromSeq === null) return events;
      fromSeq = page.nextFromSeq;
    }
  }

  it('seeks: the snapshot at t is the terminal a full replay to t shows', async () => {
    const { sessionId } = await terminalSession();
    const h = await signedIn('alice', ALICE_PASSWORD);
    const info = await h.call('recordings.open', { sessionId });
    await h.app.playbacks?.keyframesOf(info.playbackId)?.build();
    const targets = [
      0,
      1_000,
      info.durationMs * 0.3,
      info.durationMs * 0.5,
      info.durationMs * 0.77,
      info.durationMs,
    ];
    for (const raw of targets) {
      const atMs = Math.round(raw);
      const seek = await h.call('playback.seek', { playbackId: info.playbackId, atMs });
      const frames = await allFrames(h, info.playbackId, 0, atMs + 0.5);
      const term = new HeadlessTerminal(info.size.cols, info.size.rows);
      try {
        for (const event of frames) {
          if (event.kind === 'output') await term.write(event.data);
          if (event.kind === 'resize' && event.size) term.resize(event.size.cols, event.size.rows);
        }
        expect(seek.size).toEqual({ cols: term.cols, rows: term.rows });
        expect(seek.snapshot, `at ${atMs} ms`).toBe(term.serialize());
      } finally {
        term.dispose();
      }
      // Playing on from the snapshot starts right after it.
      const next = await h.call('playback.frames', {
        playbackId: info.playbackId,
        fromMs: atMs,
        toMs: info.durationMs + 1,
        fromSeq: seek.nextSeq,
      });
      if (next.events[0]) expect(next.events[0].t).toBeGreaterThan(atMs);
    }
    const middle = await h.call('playback.seek', {
      playbackId: info.playbackId,
      atMs: Math.round(info.durationMs * 0.5),
    });
    expect(middle.snapshot).toMatch(/round 1[2-5] line/);
  });

  it('a recording cut off without its final checkpoint opens as partial, verified to its checkpoint', async () => {
    const { sessionId, recorder } = await record(
      'ssh',
      async (append) => {
        await append(1, eventKinds.output, 'before the checkpoint\r\n');
      },
      { close: false },
    );
    const admin = await gw.login('root', ADMIN_PASSWORD);
    tokensSeen.add(admin);
    // The recorder checkpoints on its timer; wait for it, then write past it.
    for (let i = 0; i < 100; i++) {
      const row = await gw.request('GET', `/v1/recordings?limit=500`, { token: admin });
      const found = row.json.recordings.find(
        (r: { sessionId: string }) => r.sessionId === sessionId,
      );
      if (found?.lastCheckpointSeq >= 1) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await recorder.append(1, eventKinds.output, Buffer.from('after it\r\n'));
    const h = await signedIn('alice', ALICE_PASSWORD);
    const info = await h.call('recordings.open', { sessionId });
    expect(info.verdict.status).toBe('partial');
    expect(info.verdict.verifiedThroughSeq).toBeGreaterThanOrEqual(1);
    expect(info.verdict.firstBadSeq).toBeNull();
    const frames = await h.call('playback.frames', {
      playbackId: info.playbackId,
      fromMs: 0,
      toMs: 1e9,
    });
    expect(frames.events.map((e) => e.data).join('')).toContain('before the checkpoint');
    await recorder.close();
  });

  it('a tampered recording fails at the altered seq and serves no frame until the warning was seen', async () => {
    const { sessionId } = await record('ssh', async (append) => {
      await append(1, eventKinds.input, 'echo $((6*7))\r');
      await append(1, eventKinds.output, '42\r\n');
      await append(1, eventKinds.output, 'frame-four-payload\r\n');
      await append(1, eventKinds.output, 'done\r\n');
    });
    const segment = path.join(gw.dataDir, 'recordings', sessionId, '000000.seg');
    const bytes = await fs.readFile(segment);
    const at = bytes.indexOf('frame-four-payload');
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x20, at);
    await fs.writeFile(segment, bytes);

    const h = await signedIn('alice', ALICE_PASSWORD);
    const info = await h.call('recordings.open', { sessionId });
    expect(info.verdict).toMatchObject({ status: 'failed', firstBadSeq: 3 });
    expect(info.verdict.message).toMatch(/frame 3 was altered/);
    expect(info.frames).toBe(2);
    const refused = await rejection(
      h.call('playback.frames', { playbackId: info.playbackId, fromMs: 0, toMs: 1e9 }),
    );
    expect(refused.code).toBe('verification_failed');
    expect(
      (await rejection(h.call('playback.seek', { playbackId: info.playbackId, atMs: 0 }))).code,
    ).toBe('verification_failed');
    const shown = await h.call('playback.frames', {
      playbackId: info.playbackId,
      fromMs: 0,
      toMs: 1e9,
      includeInput: true,
      acceptFailedVerification: true,
    });
    expect(shown.events.map((e) => e.seq)).toEqual([1, 2]);
    expect(shown.events.map((e) => e.data).join('')).not.toContain('frame');
  });

  // Recorded PostgreSQL events, as the proxy writes them (`row`: a DataRow body).
  const json = (value: unknown) => JSON.stringify(value);
  const column = (name: string, typeOid: number) => ({
    name,
    tableOid: 0,
    columnAttr: 0,
    typeOid,
    typeSize: -1,
    typeModifier: -1,
    format: 0,
  });
  it('plays a database session as a timeline of queries with rows, errors, blocks and masking', async () => {
    const { sessionId } = await record('postgres', async (append) => {
      await append(
        0,
        eventKinds.query,
        json({ protocol: 'simple', sql: 'select id, email from users' }),
      );
      await append(
        0,
        eventKinds.rowDescription,
        json({ columns: [column('id', 23), column('email', 25)] }),
      );
      await append(0, eventKinds.dataRow, row(['1', '****']));
      await append(0, eventKinds.dataRow, row(['2', null]));
      gw.clock.advance(7);
      await append(0, eventKinds.commandComplete, json({ tag: 'SELECT 2' }));
      gw.clock.advance(1_000);
      await append(0, eventKinds.query, json({ protocol: 'simple', sql: 'select nope' }));
      await append(
        0,
        eventKinds.error,
        json({ fields: { S: 'ERROR', V: 'ERROR', C: '42703', M: 'column "nope" does not exist' } }),
      );
      gw.clock.advance(1_000);
      await append(0, eventKinds.query, json({ protocol: 'simple', sql: 'drop table users' }));
      await append(
        0,
        eventKinds.blocked,
        json({ sql: 'drop table users', rule: 'no-ddl', reason: 'DDL is not allowed' }),
      );
      await append(
        0,
        eventKinds.error,
        json({ fields: { S: 'ERROR', V: 'ERROR', C: '42501', M: 'blocked by Witness' } }),
      );
    });
    const h = await signedIn('alice', ALICE_PASSWORD);
    const info = await h.call('recordings.open', { sessionId });
    expect(info).toMatchObject({
      kind: 'database',
      queryCount: 3,
      verdict: { status: 'verified' },
    });
    const page1 = await h.call('playback.queries', { playbackId: info.playbackId, limit: 2 });
    expect(page1.nextCursor).toBe(2);
    expect(page1.entries[0]).toMatchObject({
      index: 0,
      seq: 1,
      sql: 'select id, email from users',
      rowCount: 2,
      status: 'SELECT 2',
      durationMs: 7,
      error: null,
      blocked: null,
      maskedColumns: ['email'],
      columns: [
        { name: 'id', typeOid: 23 },
        { name: 'email', typeOid: 25 },
      ],
      rows: [
        ['1', '****'],
        ['2', null],
      ],
      rowsTruncated: false,
    });
    expect(page1.entries[1]).toMatchObject({
      sql: 'select nope',
      status: 'error',
      error: { code: '42703', message: 'column "nope" does not exist' },
    });
    expect(page1.entries[1]!.t - page1.entries[0]!.t).toBe(1_007);
    const page2 = await h.call('playback.queries', { playbackId: info.playbackId, cursor: 2 });
    expect(page2).toMatchObject({
      nextCursor: null,
      entries: [{ sql: 'drop table users', status: 'blocked', blocked: { rule: 'no-ddl' } }],
    });
  });

  it('exports byte-equal to the gateway, with progress, and the bundle opens offline', async () => {
    const { sessionId } = await terminalSession();
    const h = await signedIn('alice', ALICE_PASSWORD);
    const aliceToken = await gw.login('alice', ALICE_PASSWORD);
    tokensSeen.add(aliceToken);

    const cast = await h.call('recordings.export', { exportId: 'x1', sessionId, format: 'cast' });
    expect(path.dirname(cast.savedTo)).toBe(path.join(h.dir, 'downloads'));
    const castBytes = await fs.readFile(cast.savedTo);
    expect(
      castBytes.equals(await rawGet(`/v1/recordings/${sessionId}/export?format=cast`, aliceToken)),
    ).toBe(true);
    expect(cast.bytes).toBe(castBytes.length);
    // Output only unless asked: `cat part-0.log` was typed, so only the opt-in file has it.
    expect(castBytes.toString()).not.toContain('"i"');
    const withInput = await h.call('recordings.export', {
      exportId: 'x0',
      sessionId,
      format: 'cast',
      includeInput: true,
    });
    const withInputBytes = await fs.readFile(withInput.savedTo);
    expect(withInputBytes.toString()).toMatch(/,"i","cat part-0\.log\\r"\]/);
    expect(
      withInputBytes.equals(
        await rawGet(`/v1/recordings/${sessionId}/export?format=cast&includeInput=1`, aliceToken),
      ),
    ).toBe(true);
    const progress = h.events
      .filter((e) => e.name === 'export.progress')
      .map((e) => e.payload as { exportId: string; state: string });
    expect(progress.filter((p) => p.exportId === 'x1').at(-1)?.state).toBe('done');

    const bundle = await h.call('recordings.export', {
      exportId: 'x2',
      sessionId,
      format: 'bundle',
    });
    const bundleBytes = await fs.readFile(bundle.savedTo);
    const gatewayBundle = await rawGet(
      `/v1/recordings/${sessionId}/export?format=bundle`,
      aliceToken,
    );
    // The description line carries the export time, also inside the gateway's signed statement
    // (so each export's signature differs); everything after it is the recording.
    const body = (b: Buffer) => b.subarray(b.indexOf(0x0a, 10) + 1);
    const description = (b: Buffer) => {
      const { statement, statementSignature, ...rest } = JSON.parse(
        b.subarray(10, b.indexOf(0x0a, 10)).toString(),
      );
      expect(typeof statementSignature).toBe('string');
      return { ...rest, exportedAt: 0, statement: { ...JSON.parse(statement), exportedAt: 0 } };
    };
    expect(body(bundleBytes).equals(body(gatewayBundle))).toBe(true);
    expect(description(bundleBytes)).toEqual(description(gatewayBundle));
    expect(
      body(bundleBytes).equals(await rawGet(`/v1/recordings/${sessionId}/stream`, aliceToken)),
    ).toBe(true);

    // Cancelled: the call says so, the progress events end with it, and no file is left.
    const before = await fs.readdir(path.join(h.dir, 'downloads'));
    const cancelled = rejection(
      h.call('recordings.export', { exportId: 'x9', sessionId, format: 'cast' }),
    );
    await h.call('recordings.cancelExport', { exportId: 'x9' });
    expect((await cancelled).code).toBe('cancelled');
    const x9 = h.events
      .filter((e) => e.name === 'export.progress')
      .map((e) => e.payload as { exportId: string; state: string });
    expect(x9.filter((p) => p.exportId === 'x9').at(-1)?.state).toBe('cancelled');
    expect(await fs.readdir(path.join(h.dir, 'downloads'))).toEqual(before);

    // A second export of the same recording does not overwrite the first.
    const again = await h.call('recordings.export', { exportId: 'x3', sessionId, format: 'cast' });
    expect(again.savedTo).not.toBe(cast.savedTo);

    // Offline: a fresh app with nothing pinned and no gateway, given the file and a fingerprint.
    const offline = await openApp('offline-window');
    const pinnedFingerprint = (await h.call('app.getState', {})).gateway!.recordingKeyFingerprint;
    const upload = async (bytes: Buffer) => {
      const { uploadId, maxChunkBytes } = await offline.call('bundles.uploadBegin', {
        fileName: 'x.wbundle',
        size: bytes.length,
      });
      expect(maxChunkBytes).toBe(MAX_BUNDLE_CHUNK_BYTES);
      for (let at = 0; at < bytes.length; at += maxChunkBytes) {
        await offline.call('bundles.uploadChunk', {
          uploadId,
          offset: at,
          data: bytes.subarray(at, at + maxChunkBytes).toString('base64'),
        });
      }
      return uploadId;
    };
    expect(
      (
        await rejection(
          offline.call('recordings.openBundle', { uploadId: await upload(bundleBytes) }),
        )
      ).code,
    ).toBe('invalid_request');
    const opened = await offline.call('recordings.openBundle', {
      uploadId: await upload(bundleBytes),
      fingerprint: pinnedFingerprint,
    });
    expect(opened).toMatchObject({
      source: 'bundle',
      sessionId,
      kind: 'terminal',
      verdict: {
        status: 'verified',
        keySource: 'fingerprint',
        recordingKeyFingerprint: pinnedFingerprint,
      },
    });
    const frames = await offline.call('playback.frames', {
      playbackId: opened.playbackId,
      fromMs: 0,
      toMs: 5_000,
    });
    expect(frames.events.map((e) => e.data).join('')).toContain('alice@web-1');
    const seek = await offline.call('playback.seek', {
      playbackId: opened.playbackId,
      atMs: 1_000,
    });
    expect(seek.snapshot).toContain('alice@web-1');

    const wrong = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
    const refused = await offline.call('recordings.openBundle', {
      uploadId: await upload(bundleBytes),
      fingerprint: wrong,
    });
    expect(refused.verdict).toMatchObject({ status: 'failed', firstBadSeq: 0 });
    expect(refused.verdict.message).toMatch(/does not match the fingerprint you trust/);
    expect(
      (
        await rejection(
          offline.call('playback.frames', { playbackId: refused.playbackId, fromMs: 0, toMs: 1e9 }),
        )
      ).code,
    ).toBe('verification_failed');

    // Uploaded bundles live only as long as their playback or their window.
    const uploadsDir = path.join(offline.dir, 'bundle-uploads');
    expect((await fs.readdir(uploadsDir)).length).toBe(3);
    await offline.call('playback.close', { playbackId: opened.playbackId });
    expect((await fs.readdir(uploadsDir)).length).toBe(2);
    offline.app.clientDisconnected('offline-window');
    for (let i = 0; i < 50 && (await fs.readdir(uploadsDir)).length > 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(await fs.readdir(uploadsDir)).toEqual([]);

    // The signed-in app verifies the same bundle with its pinned key.
    const pinned = await h.call('bundles.uploadBegin', { fileName: 'b', size: bundleBytes.length });
    await h.call('bundles.uploadChunk', {
      uploadId: pinned.uploadId,
      offset: 0,
      data: bundleBytes.subarray(0, MAX_BUNDLE_CHUNK_BYTES).toString('base64'),
    });
    expect(
      (
        await rejection(
          h.call('bundles.uploadChunk', { uploadId: pinned.uploadId, offset: 0, data: 'AAAA' }),
        )
      ).code,
    ).toBe('invalid_request');
    for (let at = MAX_BUNDLE_CHUNK_BYTES; at < bundleBytes.length; at += MAX_BUNDLE_CHUNK_BYTES) {
      await h.call('bundles.uploadChunk', {
        uploadId: pinned.uploadId,
        offset: at,
        data: bundleBytes.subarray(at, at + MAX_BUNDLE_CHUNK_BYTES).toString('base64'),
      });
    }
    const withPinned = await h.call('recordings.openBundle', { uploadId: pinned.uploadId });
    expect(withPinned.verdict).toMatchObject({ status: 'verified', keySource: 'pinned' });
    // Another window cannot use this window's playback.
    expect(
      (
        await rejection(
          offline.call('playback.frames', {
            playbackId: withPinned.playbackId,
            fromMs: 0,
            toMs: 1,
          }),
        )
      ).code,
    ).toBe('not_found');
  });

  it('plays a second shell of the same connection when asked (channels listed, others refused)', async () => {
    const { sessionId } = await record('ssh', async (append) => {
      await append(1, eventKinds.meta, JSON.stringify({ type: 'pty-req', cols: 100, rows: 30 }));
      await append(1, eventKinds.output, 'first$ ');
      gw.clock.advance(1_000);
      await append(3, eventKinds.meta, JSON.stringify({ type: 'pty-req', cols: 80, rows: 24 }));
      await append(3, eventKinds.output, 'second$ ');
      gw.clock.advance(1_000);
      await append(3, eventKinds.input, 'hostname\r');
      await append(3, eventKinds.output, 'hostname\r\nweb-1\r\nsecond$ ');
      await append(5, eventKinds.meta, JSON.stringify({ type: 'subsystem', name: 'sftp' }));
      await append(5, eventKinds.output, 'sftp bytes');
    });
    const h = await signedIn('alice', ALICE_PASSWORD);
    const first = await h.call('recordings.open', { sessionId });
    expect(first).toMatchObject({ channel: 1, channels: [1, 3], size: { cols: 100, rows: 30 } });
    const text = async (playbackId: string) =>
      (await h.call('playback.frames', { playbackId, fromMs: 0, toMs: 10_000 })).events
        .map((e) => e.data)
        .join('');
    expect(await text(first.playbackId)).toBe('first$ ');

    for (let open = 0; open < 2; open++) {
      // The second time from the cached index of that channel.
      const second = await h.call('recordings.open', { sessionId, channel: 3 });
      expect(second).toMatchObject({
        channel: 3,
        channels: [1, 3],
        size: { cols: 80, rows: 24 },
        commands: [{ text: 'hostname' }],
        verdict: { status: 'verified' },
      });
      expect(await text(second.playbackId)).toContain('web-1');
      expect(await text(second.playbackId)).not.toContain('first$');
      const seek = await h.call('playback.seek', { playbackId: second.playbackId, atMs: 5_000 });
      expect(seek.snapshot).toContain('web-1');
    }
    // sftp is not a terminal, and channel 9 does not exist.
    for (const channel of [5, 9]) {
      const refused = await rejection(h.call('recordings.open', { sessionId, channel }));
      expect(refused.code).toBe('invalid_request');
      expect(refused.message).toMatch(/terminal channels: 1, 3/);
    }
  });

  it('searches through the gateway index and lands on the hit', async () => {
    const { sessionId } = await record('ssh', async (append) => {
      await append(1, eventKinds.meta, JSON.stringify({ type: 'pty-req', cols: 80, rows: 24 }));
      gw.clock.advance(3_000);
      await append(1, eventKinds.input, 'grep zebrafish /etc/hosts\r');
      await append(1, eventKinds.output, 'grep zebrafish /etc/hosts\r\nno zebrafish here\r\n');
    });
    const h = await signedIn('alice', ALICE_PASSWORD);
    const { hits } = await h.call('recordings.search', { q: 'zebrafish' });
    const hit = hits.find((x) => x.sessionId === sessionId && x.kind === 'command');
    expect(hit).toMatchObject({ username: 'alice', resourceName: 'web-1', t: 3_000 });
    expect(hit!.snippet.slice(hit!.highlights[0]![0], hit!.highlights[0]![1]).toLowerCase()).toBe(
      'zebrafish',
    );
    const info = await h.call('recordings.open', { sessionId });
    const seek = await h.call('playback.seek', { playbackId: info.playbackId, atMs: hit!.t });
    expect(seek.snapshot).toContain('no zebrafish here');
    // By the hit's seq (as the player seeks to a hit): just after the command's frame. The
    // output, recorded in the same millisecond, is the next thing playback shows.
    const atHit = await h.call('playback.seek', {
      playbackId: info.playbackId,
      atMs: hit!.t,
      afterSeq: hit!.seq,
    });
    expect(atHit.snapshot).not.toContain('no zebrafish here');
    const next = await h.call('playback.frames', {
      playbackId: info.playbackId,
      fromMs: hit!.t,
      toMs: info.durationMs + 1,
      fromSeq: atHit.nextSeq,
    });
    expect(next.events.map((e) => e.data).join('')).toContain('no zebrafish here');
  });

  /** A recording of alice's on web-1 left open, to watch live. */
  const liveRecording = async (protocol: 'ssh' | 'postgres') => {
    const sessionId = newId('ses');
    const recorder = await gw.gateway.services.recorder.start({
      sessionId,
      userId: aliceId,
      resourceId: webId,
      protocol,
    });
    return { sessionId, recorder };
  };

  it('watches a live session as it is recorded (admins), and engineers may not', async () => {
    const { sessionId, recorder } = await liveRecording('ssh');
    await recorder.append(
      1,
      eventKinds.meta,
      Buffer.from(JSON.stringify({ type: 'pty-req', cols: 90, rows: 20 })),
    );
    await recorder.append(1, eventKinds.output, Buffer.from('live one\r\n'));

    const alice = await signedIn('alice', ALICE_PASSWORD);
    expect((await rejection(alice.call('live.watch', { sessionId }))).code).toBe('forbidden');

    const root = await signedIn('root', ADMIN_PASSWORD);
    const watch = await root.call('live.watch', { sessionId });
    expect(watch).toMatchObject({ source: 'live', sessionId, kind: 'terminal' });
    // Nothing about it arrives before the answer that names its playbackId.
    expect(root.events.filter((e) => e.name.startsWith('live.'))).toEqual([]);
    const liveText = () =>
      root.events
        .filter((e) => e.name === 'live.frames')
        .flatMap((e) => (e.payload as { events: PlaybackEvent[] }).events)
        .map((e) => (e.kind === 'resize' ? `[${e.size?.cols}x${e.size?.rows}]` : e.data))
        .join('');
    await waitFor(() => liveText().includes('live one'), 'the first live output');
    expect(liveText().startsWith('[90x20]')).toBe(true);
    await recorder.append(1, eventKinds.output, Buffer.from('live two ☕\r\n'));
    await waitFor(() => liveText().includes('live two ☕'), 'the second live output');
    await recorder.close();
    await waitFor(() => root.events.some((e) => e.name === 'live.ended'), 'live.ended');
    const ended = root.events.find((e) => e.name === 'live.ended')!.payload;
    expect(ended).toMatchObject({
      playbackId: watch.playbackId,
      reason: 'session-ended',
      verdict: { status: 'verified' },
    });
  });

  it('tells a watcher whose access was taken away why the watch ended (issue #14)', async () => {
    const { sessionId, recorder } = await liveRecording('ssh');
    await recorder.append(1, eventKinds.output, Buffer.from('watched\r\n'));
    const auditorId = await gw.createUser('wendy', 'auditor', 'wendy-password-1');
    const wendy = await signedIn('wendy', 'wendy-password-1');
    const watch = await wendy.call('live.watch', { sessionId });
    const root = (await gw.gateway.services.store.getUserByUsername('root'))!;
    await gw.gateway.services.users.setRole(root, auditorId, 'engineer');
    await waitFor(() => wendy.events.some((e) => e.name === 'live.ended'), 'live.ended');
    expect(wendy.events.find((e) => e.name === 'live.ended')!.payload).toMatchObject({
      playbackId: watch.playbackId,
      reason: 'stopped',
      message: 'Watching ended: the role changed to engineer.',
    });
    await recorder.close();
  });

  it('watches a live database session: each query arrives once its result is complete', async () => {
    const { sessionId, recorder } = await liveRecording('postgres');
    const append = (kind: EventKind, data: string | Buffer) =>
      recorder.append(0, kind, typeof data === 'string' ? Buffer.from(data) : data);
    await append(eventKinds.query, json({ protocol: 'simple', sql: 'select 1 as one' }));
    await append(eventKinds.rowDescription, json({ columns: [column('one', 23)] }));
    await append(eventKinds.dataRow, row(['1']));
    await append(eventKinds.commandComplete, json({ tag: 'SELECT 1' }));

    const root = await signedIn('root', ADMIN_PASSWORD);
    const watch = await root.call('live.watch', { sessionId });
    expect(watch).toMatchObject({ source: 'live', sessionId, kind: 'database' });
    const liveQueries = () =>
      root.events
        .filter((e) => e.name === 'live.queries')
        .flatMap((e) => (e.payload as { entries: { sql: string; rows: unknown[] }[] }).entries);
    await waitFor(() => liveQueries().length === 1, 'the first live query');
    expect(liveQueries()[0]).toMatchObject({ index: 0, sql: 'select 1 as one', rows: [['1']] });
    // A query still waiting for its result is not shown until the result is complete…
    await append(eventKinds.query, json({ protocol: 'simple', sql: 'select pg_sleep(1)' }));
    await append(eventKinds.rowDescription, json({ columns: [column('pg_sleep', 2278)] }));
    await new Promise((r) => setTimeout(r, 300));
    expect(liveQueries()).toHaveLength(1);
    await append(eventKinds.dataRow, row(['']));
    await append(eventKinds.commandComplete, json({ tag: 'SELECT 1' }));
    await waitFor(() => liveQueries().length === 2, 'the second live query');
    expect(liveQueries()[1]).toMatchObject({ index: 1, sql: 'select pg_sleep(1)', rowCount: 1 });
    // …and one cut short by the end of the session comes with the end.
    await append(eventKinds.query, json({ protocol: 'simple', sql: 'select unfinished' }));
    await recorder.close();
    await waitFor(() => root.events.some((e) => e.name === 'live.ended'), 'live.ended');
    expect(liveQueries().map((q) => q.sql)).toEqual([
      'select 1 as one',
      'select pg_sleep(1)',
      'select unfinished',
    ]);
    expect(root.events.find((e) => e.name === 'live.ended')!.payload).toMatchObject({
      playbackId: watch.playbackId,
      reason: 'session-ended',
      verdict: { status: 'verified' },
    });
  });

  it('never sends a token to the renderer', async () => {
    expect(tokensSeen.size).toBeGreaterThan(2);
    const everything = wire.join('\n');
    for (const token of tokensSeen) expect(everything).not.toContain(token);
    expect(everything).not.toMatch(/refreshToken|accessToken|eyJ[A-Za-z0-9_-]{10,}\./);
  });
});
