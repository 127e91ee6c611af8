/**
 * The value channels other than DataRows (issue #13) through the protocol tracker, with a
 * scripted server: COPY TO masked row by row after the gateway's own Describe, refused where
 * it cannot be masked; notices, errors and NOTIFY payloads through the value rules.
 */
import { describe, expect, it } from 'vitest';
import {
  type BackendMessage,
  encodeBackend,
  encodeFrontend,
  type Frame,
  type FrontendMessage,
  MessageReader,
} from '../../../shared/postgres/codec.ts';
import { loadSqlParser } from '../../policy/sqlParse.ts';
import { PostgresProtocolTracker } from './protocolTracker.ts';
import { compileSessionPolicy } from './sessionPolicy.ts';

const parser = await loadSqlParser();
const field = (name: string, typeOid = 25) => ({
  name,
  tableOid: 0,
  columnAttnum: 0,
  typeOid,
  typeSize: -1,
  typeModifier: -1,
  format: 0,
});

const POLICY = compileSessionPolicy(parser, {
  masking: [
    { name: 'emails', match: { kind: 'preset', preset: 'email' }, style: 'full' },
    { name: 'ssn', match: { kind: 'column', pattern: '^ssn$' }, style: 'full' },
  ],
  guardrails: [],
});

function decodeAll(bytes: Buffer[], direction: 'frontend' | 'backend') {
  const reader = new MessageReader(direction);
  if (direction === 'frontend') reader.expectTyped();
  return reader.push(Buffer.concat(bytes)).map((frame) => reader.decode(frame));
}

function harness(policy = POLICY) {
  const blocked: string[] = [];
  const tracker = new PostgresProtocolTracker(policy, {
    blocked: (verdict) => blocked.push(verdict.reason),
  });
  const toServer: Buffer[] = [];
  const toClient: Buffer[] = [];
  const out = (into: Buffer[]) => ({
    forward: (raw: Buffer) => into.push(raw),
    add: (bytes: Buffer) => into.push(bytes),
  });
  const frameOf = (bytes: Buffer, direction: 'frontend' | 'backend'): Frame => {
    const reader = new MessageReader(direction);
    if (direction === 'frontend') reader.expectTyped();
    return reader.push(bytes)[0]!;
  };
  return {
    tracker,
    blocked,
    client: (message: FrontendMessage) =>
      tracker.client(frameOf(encodeFrontend(message), 'frontend'), out(toServer)),
    server: (...messages: BackendMessage[]) => {
      for (const message of messages) {
        tracker.server(frameOf(encodeBackend(message), 'backend'), out(toClient));
      }
    },
    sent: () => decodeAll(toServer.splice(0), 'frontend'),
    received: () => decodeAll(toClient.splice(0), 'backend'),
  };
}

const copyData = (text: string): BackendMessage => ({ type: 'CopyData', data: Buffer.from(text) });
const copyText = (messages: ReturnType<ReturnType<typeof harness>['received']>) =>
  messages
    .filter((m) => m.type === 'CopyData')
    .map((m) => (m.type === 'CopyData' ? m.data.toString() : ''))
    .join('');

describe('COPY TO through the tracker', () => {
  it('describes the COPY first, then masks each row by its columns and the value rules', () => {
    const h = harness();
    h.client({ type: 'Query', sql: 'COPY people (id, ssn, note) TO STDOUT' });
    expect(h.sent().map((m) => m.type)).toEqual(['Parse', 'Describe', 'Close', 'Sync', 'Query']);
    h.server(
      { type: 'ParseComplete' },
      { type: 'ParameterDescription', parameterTypes: [] },
      { type: 'RowDescription', fields: [field('id', 23), field('ssn'), field('note')] },
      { type: 'CloseComplete' },
      { type: 'ReadyForQuery', status: 'I' },
    );
    expect(h.received()).toEqual([]); // the Describe's answer is the gateway's
    h.server(
      { type: 'CopyOutResponse', format: 0, columnFormats: [0, 0, 0] },
      copyData('1\t123-45-6789\tmail a@b.io\n'),
      copyData('2\t\\N\tno'),
      copyData('thing\n'),
      { type: 'CopyDone' },
      { type: 'CommandComplete', tag: 'COPY 2' },
      { type: 'ReadyForQuery', status: 'I' },
    );
    const received = h.received();
    expect(copyText(received)).toBe('1\t****\tmail ****\n2\t\\N\tnothing\n');
    expect(received.map((m) => m.type)).toEqual([
      'CopyOutResponse',
      'CopyData',
      'CopyData',
      'CopyDone',
      'CommandComplete',
      'ReadyForQuery',
    ]);
  });

  it('masks CSV with a header, and by value rules alone when the Describe failed', () => {
    const h = harness(
      compileSessionPolicy(parser, {
        masking: [{ name: 'emails', match: { kind: 'preset', preset: 'email' }, style: 'full' }],
        guardrails: [],
      }),
    );
    h.client({ type: 'Query', sql: 'COPY (SELECT * FROM v) TO STDOUT (FORMAT csv, HEADER)' });
    h.sent();
    h.server(
      {
        type: 'ErrorResponse',
        fields: new Map([
          ['S', 'ERROR'],
          ['C', '42P01'],
          ['M', 'no v'],
        ]),
      },
      { type: 'ReadyForQuery', status: 'I' },
      { type: 'CopyOutResponse', format: 0, columnFormats: [0, 0] },
      copyData('id,"a@b.io"\n'),
      copyData('1,"x, a@b.io"\n'),
      { type: 'CopyDone' },
      { type: 'CommandComplete', tag: 'COPY 1' },
      { type: 'ReadyForQuery', status: 'I' },
    );
    expect(copyText(h.received())).toBe('id,"****"\n1,"x, ****"\n');
  });

  it("refuses after the fact a COPY whose columns a column rule would need but the gateway can't learn", () => {
    const h = harness();
    h.client({ type: 'Query', sql: 'COPY (SELECT * FROM v) TO STDOUT' });
    h.sent();
    h.server(
      {
        type: 'ErrorResponse',
        fields: new Map([
          ['S', 'ERROR'],
          ['C', '42P01'],
          ['M', 'no v'],
        ]),
      },
      { type: 'ReadyForQuery', status: 'I' },
      { type: 'CopyOutResponse', format: 0, columnFormats: [0] },
      copyData('123-45-6789\n'),
      { type: 'CopyDone' },
      { type: 'CommandComplete', tag: 'COPY 1' },
      { type: 'ReadyForQuery', status: 'I' },
    );
    const received = h.received();
    expect(received.map((m) => m.type)).toEqual(['ErrorResponse', 'ReadyForQuery']);
    const error = received[0]!;
    expect(error.type === 'ErrorResponse' && error.fields.get('C')).toBe('42501');
    expect(error.type === 'ErrorResponse' && error.fields.get('M')).toMatch(/"ssn"/);
    expect(h.blocked).toEqual([expect.stringMatching(/columns could not be learned/)]);
  });

  it('refuses binary COPY, COPY to files and COPY in the extended protocol before they run', () => {
    for (const sql of [
      'COPY people TO STDOUT (FORMAT binary)',
      "COPY people TO '/tmp/people'",
      "COPY people TO STDOUT (ENCODING 'LATIN1')",
      'SET search_path TO other; COPY people TO STDOUT',
    ]) {
      const h = harness();
      h.client({ type: 'Query', sql });
      expect(h.sent(), sql).toEqual([]);
      h.tracker.answer({ forward: () => {}, add: () => {} });
      expect(h.blocked).toHaveLength(1);
    }
    const h = harness();
    h.client({ type: 'Parse', statement: '', sql: 'COPY people TO STDOUT', parameterTypes: [] });
    h.client({ type: 'Sync' });
    expect(h.sent().map((m) => m.type)).toEqual(['Sync']);
    expect(h.blocked[0]).toMatch(/extended protocol/);
  });

  it('refuses after the fact a binary COPY it did not see coming', () => {
    const h = harness();
    h.client({ type: 'Query', sql: 'SELECT 1' }); // as if a COPY hid in it
    h.sent();
    h.server(
      { type: 'CopyOutResponse', format: 1, columnFormats: [1] },
      copyData('PGCOPY\n'),
      { type: 'CopyDone' },
      { type: 'CommandComplete', tag: 'COPY 1' },
      { type: 'ReadyForQuery', status: 'I' },
    );
    expect(h.received().map((m) => m.type)).toEqual(['ErrorResponse', 'ReadyForQuery']);
  });
});

describe('notices, errors and notifications through the tracker', () => {
  it("applies the value rules to column names, and plans masking by the server's names", () => {
    const h = harness();
    h.client({ type: 'Query', sql: 'SELECT * FROM v' });
    h.server(
      { type: 'RowDescription', fields: [field('a@b.io'), field('ssn')] },
      { type: 'DataRow', values: [Buffer.from('x'), Buffer.from('123-45-6789')] },
      { type: 'CommandComplete', tag: 'SELECT 1' },
      { type: 'ReadyForQuery', status: 'I' },
    );
    const [report, description, row] = h.received();
    // The column rule's column is reported ahead of the RowDescription (issue #15).
    expect(report).toEqual({ type: 'ParameterStatus', name: 'witness.masked_columns', value: '1' });
    expect(description?.type === 'RowDescription' && description.fields.map((f) => f.name)).toEqual(
      ['****', 'ssn'],
    );
    expect(row?.type === 'DataRow' && row.values.map(String)).toEqual(['x', '****']);
  });

  it('applies the value rules to their text, leaving codes as sent', () => {
    const h = harness();
    h.client({ type: 'Query', sql: 'SELECT 1' });
    h.server(
      {
        type: 'NoticeResponse',
        fields: new Map([
          ['S', 'NOTICE'],
          ['C', '00000'],
          ['M', 'customer a@b.io'],
          ['W', 'PL/pgSQL function f() line 3 at RAISE'],
        ]),
      },
      { type: 'NotificationResponse', processId: 1, channel: 'c', payload: 'to a@b.io' },
      {
        type: 'ErrorResponse',
        fields: new Map([
          ['S', 'ERROR'],
          ['C', '23505'],
          ['M', 'duplicate key value violates unique constraint "people_email_key"'],
          ['D', 'Key (email)=(a@b.io) already exists.'],
        ]),
      },
      { type: 'ReadyForQuery', status: 'I' },
    );
    const [notice, notification, error] = h.received();
    expect(notice?.type === 'NoticeResponse' && Object.fromEntries(notice.fields)).toEqual({
      S: 'NOTICE',
      C: '00000',
      M: 'customer ****',
      W: 'PL/pgSQL function f() line 3 at RAISE',
    });
    expect(notification?.type === 'NotificationResponse' && notification.payload).toBe('to ****');
    expect(error?.type === 'ErrorResponse' && error.fields.get('D')).toBe(
      'Key (email)=(****) already exists.',
    );
  });
});
