/**
 * The indexer as the recorder drives it (frame, checkpoint, end) against a real SQLite store:
 * text derived on the worker thread is searchable within seconds of a checkpoint while the
 * session goes on; bulk output past the budget is left out while commands are not; a worker
 * that dies leaves indexing to the calling thread without losing later text.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventKinds } from '../../shared/recording/recordingFormat.ts';
import type { FrameObserver } from '../recorder/recorder.ts';
import { openSqliteStore } from '../store/openStore.ts';
import type { Store } from '../store/store.ts';
import { OutputBudget } from './outputBudget.ts';
import { RecordingTextIndexer } from './recordingTextIndexer.ts';

const stores: Store[] = [];
const indexers: RecordingTextIndexer[] = [];
afterEach(async () => {
  for (const indexer of indexers.splice(0)) await indexer.close();
  for (const store of stores.splice(0)) await store.close();
});

async function setUp(
  options: ConstructorParameters<typeof RecordingTextIndexer>[1] = {},
  file = ':memory:',
) {
  const store = await openSqliteStore(file);
  stores.push(store);
  const indexer = new RecordingTextIndexer(store, options);
  indexers.push(indexer);
  return { store, indexer };
}

/** Feeds frames the way the recorder does: seq in order, data valid only during the call. */
function feeder(observer: FrameObserver, start = Date.now()) {
  let seq = 0;
  return (kind: string, text: string | Buffer, { channel = 1, at = start } = {}) => {
    const data = Buffer.from(text);
    observer.frame({ seq: ++seq, time: at, channel, kind: kind as never, data });
    data.fill(0); // the proxy's buffer is reused once the append settles
  };
}

async function within(ms: number, found: () => Promise<boolean>): Promise<number> {
  const started = Date.now();
  while (!(await found())) {
    if (Date.now() - started > ms) throw new Error(`not indexed within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return Date.now() - started;
}

describe('RecordingTextIndexer', () => {
  it('makes a command, a query and an output line searchable within seconds, while the session goes on', async () => {
    const { store, indexer } = await setUp();
    const observer = indexer.observe('ses_live');
    const feed = feeder(observer);
    feed(eventKinds.meta, JSON.stringify({ type: 'pty-req', term: 'xterm' }));
    feed(eventKinds.input, 'grep -r quokkaprobe /etc\r');
    feed(eventKinds.output, '\u001b[1m/etc/hosts\u001b[0m: 10.0.0.7 wallabyhost\r\n');
    feed(eventKinds.query, JSON.stringify({ sql: 'SELECT numbatcolumn FROM t' }), { channel: 0 });
    observer.checkpoint(4);
    const texts = async () => (await store.listRecordingText('ses_live')).map((e) => e.text);
    // The first checkpoint also starts the worker thread (it loads the deriver's modules):
    // ~1 s on a quiet machine, several when both cores are busy with other test files.
    await within(10_000, async () => (await texts()).length === 3);
    expect(await texts()).toEqual([
      'grep -r quokkaprobe /etc',
      '/etc/hosts: 10.0.0.7 wallabyhost',
      'SELECT numbatcolumn FROM t',
    ]);
    // The session is not over: later frames go on being indexed at the next checkpoint.
    feed(eventKinds.input, 'echo second\r');
    await observer.end();
    expect(await texts()).toContain('echo second');
  });

  it('stores the index from the worker over its own connection to a SQLite file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'witness-indexer-'));
    try {
      const file = join(dir, 'witness.db');
      const { store, indexer } = await setUp({ worker: { indexFile: file } }, file);
      const observer = indexer.observe('ses_file');
      const feed = feeder(observer);
      feed(eventKinds.meta, JSON.stringify({ type: 'pty-req', term: 'xterm' }));
      feed(eventKinds.input, 'grep -r bilbyprobe /srv\r');
      feed(eventKinds.query, JSON.stringify({ sql: 'SELECT dunnartcol FROM t' }), { channel: 0 });
      observer.checkpoint(3);
      const texts = async () => (await store.listRecordingText('ses_file')).map((e) => e.text);
      await within(10_000, async () => (await texts()).length === 2);
      feed(eventKinds.input, 'echo last\r');
      // end() resolves once the worker has stored the last entries: searchable at once.
      await observer.end();
      expect(await texts()).toEqual([
        'grep -r bilbyprobe /srv',
        'SELECT dunnartcol FROM t',
        'echo last',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('logs a failed write on the worker and keeps deriving there', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'witness-indexer-'));
    try {
      const warnings: string[] = [];
      const log = {
        debug() {},
        info() {},
        warn: (message: string) => warnings.push(message),
        error() {},
      };
      // A file that is not the store's: the worker cannot open it (fileMustExist).
      const { store, indexer } = await setUp({
        log: log as never,
        worker: { indexFile: join(dir, 'missing.db') },
      });
      const observer = indexer.observe('ses_unwritable');
      const feed = feeder(observer);
      feed(eventKinds.meta, JSON.stringify({ type: 'pty-req', term: 'xterm' }));
      feed(eventKinds.input, 'uname -a\r');
      await observer.end();
      expect(warnings).toEqual(['could not index recording text; searches will miss part of it']);
      // Not derived again and stored on this thread: the worker is fine, its store is not.
      expect(await store.listRecordingText('ses_unwritable')).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('indexes bulk output up to the session budget, and commands whatever the output did', async () => {
    const { store, indexer } = await setUp({
      sessionOutputBudget: { burstBytes: 64 * 1024, bytesPerSecond: 1024 },
    });
    const observer = indexer.observe('ses_bulk');
    const start = Date.now();
    const feed = feeder(observer, start);
    feed(eventKinds.meta, JSON.stringify({ type: 'pty-req', term: 'xterm' }));
    feed(eventKinds.input, 'cat app.log\r');
    for (let block = 0; block < 64; block++) {
      const lines = Array.from({ length: 256 }, (_, i) => `line b${block}x${i} ok\r\n`).join('');
      feed(eventKinds.output, lines, { at: start + block }); // ~4 KiB a frame, 64 frames in 64 ms
    }
    feed(eventKinds.input, 'echo afterwards\r', { at: start + 100 });
    await observer.end();
    const entries = await store.listRecordingText('ses_bulk');
    const output = entries
      .filter((e) => e.kind === 'output')
      .map((e) => e.text)
      .join('\n');
    expect(output).toContain('line b0x0 ok');
    expect(output).not.toContain('line b63x255 ok'); // past the budget
    expect(output.length).toBeLessThan(80 * 1024);
    expect(entries.filter((e) => e.kind === 'command').map((e) => e.text)).toEqual([
      'cat app.log',
      'echo afterwards',
    ]);
  });

  it('goes on indexing on the calling thread when the worker dies', async () => {
    const warnings: string[] = [];
    const log = {
      debug() {},
      info() {},
      warn: (message: string) => warnings.push(message),
      error() {},
    };
    const { store, indexer } = await setUp({
      log: log as never,
      worker: {
        workerSource:
          "require('node:worker_threads').parentPort.on('message', () => process.exit(3));",
      },
    });
    const observer = indexer.observe('ses_dying');
    const feed = feeder(observer);
    feed(eventKinds.meta, JSON.stringify({ type: 'pty-req', term: 'xterm' }));
    feed(eventKinds.input, 'lost maybe\r');
    observer.checkpoint(2);
    await within(3000, async () => warnings.some((w) => w.includes('search-text worker failed')));
    feed(eventKinds.input, 'uname -a\r');
    await observer.end();
    const commands = (await store.listRecordingText('ses_dying')).map((e) => e.text);
    expect(commands).toContain('uname -a');
  });
});

describe('OutputBudget', () => {
  it('takes a burst, then refills at its rate by the frames’ times', () => {
    const budget = new OutputBudget({ burstBytes: 1000, bytesPerSecond: 100 });
    expect(budget.take(600, 0)).toBe(true);
    expect(budget.take(600, 0)).toBe(true); // whole frames: the bucket may go below zero
    expect(budget.take(1, 0)).toBe(false);
    expect(budget.allows(1000)).toBe(false); // -200 + 100
    expect(budget.take(50, 3000)).toBe(true); // -200 + 300
    expect(budget.take(1, 2000)).toBe(true); // a time step back refills nothing, charges still
    expect(budget.allows(100_000)).toBe(true);
  });
});
