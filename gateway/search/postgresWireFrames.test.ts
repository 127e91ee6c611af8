import { describe, expect, it } from 'vitest';
import {
  encodeBackend,
  encodeDataRow,
  encodeErrorResponse,
  encodeFrontend,
} from '../../shared/postgres/codec.ts';
import { eventKinds, type RecordingEvent } from '../../shared/recording/recordingFormat.ts';
import { searchableEvents, withPostgresWireExpanded } from './postgresWireFrames.ts';
import { RecordingTextDeriver } from './recordingTextDeriver.ts';

const frames: RecordingEvent[] = [
  {
    seq: 1,
    time: 10,
    channel: 0,
    kind: eventKinds.postgresFrontend,
    data: encodeFrontend({ type: 'Query', sql: 'select name from customers' }),
  },
  {
    seq: 2,
    time: 20,
    channel: 0,
    kind: eventKinds.postgresBackend,
    data: Buffer.concat([
      encodeDataRow([Buffer.from('secret row')]),
      encodeErrorResponse({ severity: 'ERROR', code: '42P01', message: 'relation missing' }),
      encodeBackend({ type: 'ReadyForQuery', status: 'I' }),
    ]),
  },
  {
    seq: 3,
    time: 30,
    channel: 0,
    kind: eventKinds.blocked,
    data: Buffer.from(JSON.stringify({ sql: 'drop table invoices', rule: 'r', reason: 'no' })),
  },
];

const expected = [
  { seq: 1, kind: 'query', text: 'select name from customers' },
  { seq: 2, kind: 'output', text: 'relation missing' },
  { seq: 3, kind: 'query', text: 'drop table invoices' },
];

describe('the search feed of a PostgreSQL session recorded as wire', () => {
  it('feeds the deriver the queries and messages the wire carries, as it is recorded', () => {
    const deriver = new RecordingTextDeriver('ses_1');
    const observer = withPostgresWireExpanded({
      frame: (frame) => deriver.frame(frame),
      checkpoint: () => {},
      end: () => {},
    });
    for (const frame of frames) observer.frame(frame);
    const entries = deriver.take({ flush: true });
    expect(entries.map(({ seq, kind, text }) => ({ seq, kind, text }))).toEqual(expected);
  });

  it('feeds re-indexing the same', async () => {
    const deriver = new RecordingTextDeriver('ses_1');
    async function* stored() {
      yield* frames;
    }
    for await (const event of searchableEvents(stored())) deriver.frame(event);
    const entries = deriver.take({ flush: true });
    expect(entries.map(({ seq, kind, text }) => ({ seq, kind, text }))).toEqual(expected);
  });
});
