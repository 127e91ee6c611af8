/**
 * A PostgreSQL session recorded as wire (`p` / `P` frames) through the indexer as the recorder
 * drives it, against a real SQLite store: the frames reach the worker as they are and are
 * expanded there; without a worker (it died) and when re-indexing they are expanded inline;
 * the output budget never leaves out wire frames, however many rows they carry.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  encodeBackend,
  encodeDataRow,
  encodeErrorResponse,
  encodeFrontend,
} from '../../shared/postgres/codec.ts';
import { eventKinds, type RecordingEvent } from '../../shared/recording/recordingFormat.ts';
import { openSqliteStore } from '../store/openStore.ts';
import type { Store } from '../store/store.ts';
import { RecordingTextIndexer, type RecordingTextIndexerOptions } from './recordingTextIndexer.ts';
import { SessionDerivation } from './sessionDerivation.ts';

function wireFrames(at = Date.now()): RecordingEvent[] {
  const query = encodeFrontend({ type: 'Query', sql: 'select name from customers' });
  return [
    // A query split across two socket reads: the cutter joins it again.
    {
      seq: 1,
      time: at,
      channel: 0,
      kind: eventKinds.postgresFrontend,
      data: query.subarray(0, 9),
    },
    { seq: 2, time: at, channel: 0, kind: eventKinds.postgresFrontend, data: query.subarray(9) },
    {
      seq: 3,
      time: at,
      channel: 0,
      kind: eventKinds.postgresBackend,
      data: Buffer.concat([
        encodeDataRow([Buffer.from('secret row')]),
        encodeErrorResponse({ severity: 'ERROR', code: '42P01', message: 'relation missing' }),
        encodeBackend({ type: 'ReadyForQuery', status: 'I' }),
      ]),
    },
    {
      seq: 4,
      time: at,
      channel: 0,
      kind: eventKinds.blocked,
      data: Buffer.from(JSON.stringify({ sql: 'drop table invoices', rule: 'r', reason: 'no' })),
    },
  ];
}

const expected = [
  { seq: 2, kind: 'query', text: 'select name from customers' },
  { seq: 3, kind: 'output', text: 'secret row' },
  { seq: 3, kind: 'output', text: 'relation missing' },
  { seq: 4, kind: 'query', text: 'drop table invoices' },
];

const stores: Store[] = [];
const indexers: RecordingTextIndexer[] = [];
afterEach(async () => {
  for (const indexer of indexers.splice(0)) await indexer.close();
  for (const store of stores.splice(0)) await store.close();
});

async function setUp(options: RecordingTextIndexerOptions = {}) {
  const store = await openSqliteStore(':memory:');
  stores.push(store);
  const indexer = new RecordingTextIndexer(store, options);
  indexers.push(indexer);
  return { store, indexer };
}

/** As the recorder does: the data is the proxy's, reused once the call returns. */
function feed(observer: { frame(frame: RecordingEvent): void }, frames: RecordingEvent[]) {
  for (const frame of frames) {
    const data = Buffer.from(frame.data);
    observer.frame({ ...frame, data });
    data.fill(0);
  }
}

async function indexed(store: Store, sessionId: string) {
  return (await store.listRecordingText(sessionId)).map(({ seq, kind, text }) => ({
    seq,
    kind,
    text,
  }));
}

describe('the search feed of a PostgreSQL session recorded as wire', () => {
  it('is expanded on the worker, from the frames as recorded', async () => {
    const { store, indexer } = await setUp();
    const observer = indexer.observe('ses_worker');
    feed(observer, wireFrames());
    await observer.end();
    expect(await indexed(store, 'ses_worker')).toEqual(expected);
  });

  it('is expanded on the calling thread when the worker dies', async () => {
    const { store, indexer } = await setUp({
      worker: {
        workerSource:
          "require('node:worker_threads').parentPort.on('message', () => process.exit(3));",
      },
    });
    const observer = indexer.observe('ses_inline');
    const frames = wireFrames();
    feed(observer, frames.slice(0, 1));
    observer.checkpoint(1);
    await indexer.idle(); // the worker died with the first batch: inline from here on
    const later = wireFrames();
    feed(
      observer,
      later.map((frame) => ({ ...frame, seq: frame.seq + 10 })),
    );
    await observer.end();
    expect(await indexed(store, 'ses_inline')).toEqual(
      expected.map((entry) => ({ ...entry, seq: entry.seq + 10 })),
    );
  });

  it('is expanded when re-indexing', async () => {
    const { store, indexer } = await setUp({ worker: false });
    async function* stored() {
      yield* wireFrames();
    }
    expect(await indexer.reindex('ses_reindex', stored())).toBe(expected.length);
    expect(await indexed(store, 'ses_reindex')).toEqual(expected);
  });

  it('is never left out by the output budget, however many rows the server sends', async () => {
    const { store, indexer } = await setUp({
      sessionOutputBudget: { burstBytes: 1024, bytesPerSecond: 1 },
      gatewayOutputBudget: { burstBytes: 1024, bytesPerSecond: 1 },
    });
    const observer = indexer.observe('ses_rows');
    const at = Date.now();
    const row = encodeDataRow([Buffer.alloc(60 * 1024, 'x')]);
    const rows: RecordingEvent[] = Array.from({ length: 40 }, (_, i) => ({
      seq: 100 + i,
      time: at,
      channel: 0,
      kind: eventKinds.postgresBackend,
      data: row,
    }));
    feed(observer, rows);
    feed(
      observer,
      wireFrames(at).map((frame) => ({ ...frame, seq: frame.seq + 200 })),
    );
    await observer.end();
    expect(await indexed(store, 'ses_rows')).toEqual(
      expected.map((entry) => ({ ...entry, seq: entry.seq + 200 })),
    );
  });

  it('starts cutting the wire afresh after frames were left out', () => {
    const derivation = new SessionDerivation('ses_gap');
    const [first] = wireFrames();
    derivation.frame(first as RecordingEvent); // half a query, then the rest is lost
    derivation.gap();
    for (const frame of wireFrames()) derivation.frame({ ...frame, seq: frame.seq + 10 });
    expect(
      derivation.take({ flush: true }).map(({ seq, kind, text }) => ({ seq, kind, text })),
    ).toEqual(expected.map((entry) => ({ ...entry, seq: entry.seq + 10 })));
  });
});
