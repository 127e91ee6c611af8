import { describe, expect, it } from 'vitest';
import {
  encodeBackend,
  encodeDataRow,
  encodeErrorResponse,
  encodeFrontend,
  noticeFieldMap,
} from '../postgres/codec.ts';
import { generateRecordingKey, RecordingBuilder } from './fixtures/recordingFixture.ts';
import { PostgresWireEvents } from './postgresWire.ts';
import { type QueryLogLine, queryLogLines } from './queryLog.ts';
import { eventKinds, type RecordingEvent } from './recordingFormat.ts';
import { verifyRecording } from './verifyRecording.ts';

const key = generateRecordingKey();
const INT4 = 23;

const column = (name: string) => ({
  name,
  tableOid: 0,
  columnAttnum: 0,
  typeOid: INT4,
  typeSize: 4,
  typeModifier: -1,
  format: 0,
});
const blockedError = {
  severity: 'ERROR',
  code: '42501',
  message: 'blocked by guardrail "no-drop": dropping tables is not allowed',
};
const fieldsJson = (fields: Parameters<typeof noticeFieldMap>[0]) =>
  Object.fromEntries(noticeFieldMap(fields));

/** One session — a simple query, a blocked statement, an extended query — in both versions. */
function version1(): RecordingBuilder {
  const r = new RecordingBuilder('ses_v1', key, { formatVersion: 1 });
  r.json(eventKinds.meta, 0, { type: 'session-start', user: 'alice' });
  r.json(eventKinds.query, 0, { protocol: 'simple', sql: 'select 1 as a, 2 as b' });
  r.json(eventKinds.rowDescription, 0, {
    columns: [column('a'), column('b')].map(({ columnAttnum, ...c }) => ({
      ...c,
      columnAttr: columnAttnum,
    })),
  });
  r.frame(eventKinds.dataRow, 0, encodeDataRow([Buffer.from('1'), Buffer.from('2')]).subarray(5));
  r.json(eventKinds.commandComplete, 0, { tag: 'SELECT 1' });
  r.json(eventKinds.blocked, 0, { sql: 'drop table t', rule: 'no-drop', reason: 'no' });
  r.json(eventKinds.error, 0, { fields: fieldsJson(blockedError) });
  r.json(eventKinds.query, 0, {
    protocol: 'extended',
    sql: 'select $1::int as n',
    statement: 's1',
    portal: '',
    params: ['7', null],
    paramFormats: [],
  });
  r.frame(eventKinds.dataRow, 0, encodeDataRow([Buffer.from('7')]).subarray(5));
  r.json(eventKinds.commandComplete, 0, { tag: 'SELECT 1' });
  r.json(eventKinds.meta, 0, { type: 'session-end', reason: 'closed by the client' });
  return r.checkpoint({ final: true });
}

function version2(): RecordingBuilder {
  const r = new RecordingBuilder('ses_v2', key);
  const ready = encodeBackend({ type: 'ReadyForQuery', status: 'I' });
  r.json(eventKinds.meta, 0, { type: 'session-start', user: 'alice' });
  // The greeting: its parameters are the login's, not events of the session.
  r.frame(
    eventKinds.postgresBackend,
    0,
    Buffer.concat([
      encodeBackend({ type: 'AuthenticationOk' }),
      encodeBackend({ type: 'ParameterStatus', name: 'TimeZone', value: 'UTC' }),
      ready,
    ]),
  );
  r.frame(
    eventKinds.postgresFrontend,
    0,
    encodeFrontend({ type: 'Query', sql: 'select 1 as a, 2 as b' }),
  );
  r.frame(
    eventKinds.postgresBackend,
    0,
    Buffer.concat([
      encodeBackend({ type: 'RowDescription', fields: [column('a'), column('b')] }),
      encodeDataRow([Buffer.from('1'), Buffer.from('2')]),
      encodeBackend({ type: 'CommandComplete', tag: 'SELECT 1' }),
      ready,
    ]),
  );
  // Blocked: nothing was forwarded to the target; the gateway answered in its place.
  r.json(eventKinds.blocked, 0, { sql: 'drop table t', rule: 'no-drop', reason: 'no' });
  r.frame(eventKinds.postgresBackend, 0, Buffer.concat([encodeErrorResponse(blockedError), ready]));
  // Extended protocol, one message cut across two frames (as a socket read may cut it).
  const batch = Buffer.concat([
    encodeFrontend({
      type: 'Parse',
      statement: 's1',
      sql: 'select $1::int as n',
      parameterTypes: [],
    }),
    encodeFrontend({
      type: 'Bind',
      portal: '',
      statement: 's1',
      parameterFormats: [],
      parameters: [Buffer.from('7'), null],
      resultFormats: [],
    }),
    encodeFrontend({ type: 'Execute', portal: '', maxRows: 0 }),
    encodeFrontend({ type: 'Sync' }),
  ]);
  r.frame(eventKinds.postgresFrontend, 0, batch.subarray(0, 30));
  r.frame(eventKinds.postgresFrontend, 0, batch.subarray(30));
  r.frame(
    eventKinds.postgresBackend,
    0,
    Buffer.concat([
      encodeBackend({ type: 'ParseComplete' }),
      encodeBackend({ type: 'BindComplete' }),
      encodeDataRow([Buffer.from('7')]),
      encodeBackend({ type: 'CommandComplete', tag: 'SELECT 1' }),
      ready,
    ]),
  );
  r.json(eventKinds.meta, 0, { type: 'session-end', reason: 'closed by the client' });
  return r.checkpoint({ final: true });
}

async function verifiedEvents(recording: RecordingBuilder): Promise<RecordingEvent[]> {
  const events: RecordingEvent[] = [];
  const report = await verifyRecording(recording.bytes(), {
    publicKeyPem: key.publicKeyPem,
    onEvent: (event) => events.push({ ...event, data: Buffer.from(event.data) }),
  });
  expect(report).toMatchObject({ status: 'verified', final: true });
  return events;
}

async function lines(
  events: RecordingEvent[],
): Promise<Omit<QueryLogLine, 'time' | 'durationMs'>[]> {
  const out: Omit<QueryLogLine, 'time' | 'durationMs'>[] = [];
  for await (const { time: _time, durationMs: _duration, ...line } of queryLogLines(events)) {
    out.push(line);
  }
  return out;
}

describe('PostgreSQL recorded as wire (format version 2)', () => {
  it('a version-1 recording (one event per message) still verifies and replays', async () => {
    const events = await verifiedEvents(version1());
    const log = await lines(events);
    expect(log.map((line) => [line.sql, line.status, line.rows])).toEqual([
      ['select 1 as a, 2 as b', 'SELECT 1', [['1', '2']]],
      ['drop table t', 'blocked', []],
      ['select $1::int as n', 'SELECT 1', [['7']]],
    ]);
  });

  it('the same session recorded as wire gives the same query log', async () => {
    const v2 = await lines(await verifiedEvents(version2()));
    const v1 = await lines(await verifiedEvents(version1()));
    expect(v2).toEqual(v1);
    expect(v2[1]).toMatchObject({ blocked: { rule: 'no-drop' }, error: { code: '42501' } });
    expect(v2[2]).toMatchObject({ protocol: 'extended', statement: 's1', params: ['7', null] });
  });

  it('derives events with the seq of the frame their message ended in; the greeting adds none', async () => {
    const recording = version2();
    const wire = new PostgresWireEvents();
    const derived = (await verifiedEvents(recording)).flatMap((event) => wire.accept(event));
    expect(derived.map((event) => [event.seq, event.kind])).toEqual([
      [1, 'm'],
      [3, 'q'],
      [4, 'd'],
      [4, 'D'],
      [4, 'c'],
      [5, 'b'],
      [6, 'E'],
      [8, 'q'], // the Execute is in the second half of the cut batch
      [9, 'D'],
      [9, 'c'],
      [10, 'm'],
    ]);
  });

  it('joins messages cut anywhere, even a byte per frame (headers included)', async () => {
    const events = await verifiedEvents(version2());
    const cut: RecordingEvent[] = events.flatMap((event) =>
      event.kind === eventKinds.postgresFrontend || event.kind === eventKinds.postgresBackend
        ? [...Buffer.from(event.data)].map((byte) => ({ ...event, data: Buffer.from([byte]) }))
        : [event],
    );
    const kinds = (list: RecordingEvent[]) => {
      const wire = new PostgresWireEvents();
      return list.flatMap((event) => wire.accept(event)).map((event) => event.kind);
    };
    expect(kinds(cut)).toEqual(kinds(events));
    expect(await lines(cut)).toEqual(await lines(events));
  });

  it('derives only the kinds asked for, and stops quietly at bytes that are not protocol', () => {
    const wire = new PostgresWireEvents({ kinds: new Set([eventKinds.query]) });
    const at = (kind: 'p' | 'P', data: Buffer): RecordingEvent => ({
      seq: 1,
      time: 0,
      channel: 0,
      kind,
      data,
    });
    const rows = Buffer.concat([
      encodeBackend({ type: 'RowDescription', fields: [column('a')] }),
      encodeDataRow([Buffer.from('1')]),
    ]);
    expect(wire.accept(at('P', rows))).toEqual([]);
    const query = wire.accept(at('p', encodeFrontend({ type: 'Query', sql: 'select 1' })));
    expect(query.map((event) => JSON.parse(Buffer.from(event.data).toString()))).toEqual([
      { protocol: 'simple', sql: 'select 1' },
    ]);
    expect(wire.accept(at('p', Buffer.from([0x01, 0, 0, 0, 4])))).toEqual([]);
    // That direction is done; the events around it still pass through.
    expect(wire.accept(at('p', encodeFrontend({ type: 'Query', sql: 'select 2' })))).toEqual([]);
    const meta = { ...at('p', Buffer.from('{}')), kind: eventKinds.meta };
    expect(wire.accept(meta)).toEqual([meta]);
  });
});
