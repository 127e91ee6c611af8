/**
 * A seeded fuzz loop over the protocol tracker, like shared/postgres/codecFuzz.test.ts for the
 * codec: random interleavings of well-formed client and server messages (in and out of
 * order), some of them mutated, through `PostgresProtocolTracker` with and without masking and
 * guardrails. Properties checked on every run:
 * - only the tracker's own refusals escape (ProtocolError, OutOfOrder, ClientEncodingChanged,
 *   LexingSettingChanged);
 * - what it forwards "as received" is exactly a message it was given, never other bytes;
 * - what it adds itself is whole, well-formed protocol for the side it goes to;
 * - a statement the guardrails block never reaches the server;
 * - without masking, every DataRow goes out as received.
 */
import { describe, expect, it } from 'vitest';
import {
  type BackendMessage,
  encodeBackend,
  encodeDataRow,
  encodeFrontend,
  type Frame,
  type FrontendMessage,
  MessageReader,
  ProtocolError,
} from '../../../shared/postgres/codec.ts';
import { seededRandom } from '../../../shared/postgres/fixtures/sampleMessages.ts';
import { loadSqlParser } from '../../policy/sqlParse.ts';
import {
  ClientEncodingChanged,
  LexingSettingChanged,
  OutOfOrder,
  PostgresProtocolTracker,
} from './protocolTracker.ts';
import { compileSessionPolicy } from './sessionPolicy.ts';

const parser = await loadSqlParser();

const TIME_BUDGET_MS = 1500;
const field = (name: string, typeOid = 25) => ({
  name,
  tableOid: 0,
  columnAttnum: 0,
  typeOid,
  typeSize: -1,
  typeModifier: -1,
  format: 0,
});

const CLIENT: FrontendMessage[] = [
  { type: 'Query', sql: 'select email from users' },
  { type: 'Query', sql: 'DROP TABLE users' },
  { type: 'Query', sql: 'select 1; drop table t' },
  { type: 'Query', sql: 'COPY users TO STDOUT (FORMAT csv, HEADER)' },
  { type: 'Query', sql: 'COPY (SELECT email FROM users) TO STDOUT' },
  { type: 'Parse', statement: '', sql: 'select $1::text as email', parameterTypes: [] },
  { type: 'Parse', statement: 's1', sql: 'drop table t', parameterTypes: [] },
  {
    type: 'Bind',
    portal: '',
    statement: '',
    parameterFormats: [],
    parameters: [Buffer.from('a@b.c')],
    resultFormats: [],
  },
  { type: 'Describe', target: 'portal', name: '' },
  { type: 'Describe', target: 'statement', name: 's1' },
  { type: 'Execute', portal: '', maxRows: 0 },
  { type: 'Close', target: 'portal', name: '' },
  { type: 'Sync' },
  { type: 'Flush' },
  { type: 'CopyData', data: Buffer.from('1\t2\n') },
  { type: 'FunctionCall', functionOid: 1, argumentFormats: [], arguments: [], resultFormat: 0 },
];

const SERVER: BackendMessage[] = [
  { type: 'RowDescription', fields: [field('email'), field('n', 23)] },
  { type: 'RowDescription', fields: [field('email')] },
  { type: 'DataRow', values: [Buffer.from('someone@example.com'), Buffer.from('1')] },
  { type: 'DataRow', values: [Buffer.from('x@y.z')] },
  { type: 'CommandComplete', tag: 'SELECT 1' },
  { type: 'EmptyQueryResponse' },
  { type: 'ReadyForQuery', status: 'I' },
  { type: 'ReadyForQuery', status: 'T' },
  { type: 'ParseComplete' },
  { type: 'BindComplete' },
  { type: 'CloseComplete' },
  { type: 'NoData' },
  { type: 'ParameterDescription', parameterTypes: [25] },
  { type: 'PortalSuspended' },
  {
    type: 'ErrorResponse',
    fields: new Map([
      ['S', 'ERROR'],
      ['C', '42601'],
      ['M', 'syntax error'],
    ]),
  },
  { type: 'NoticeResponse', fields: new Map([['M', 'hello']]) },
  { type: 'NoticeResponse', fields: new Map([['M', 'hello a@b.io']]) },
  { type: 'NotificationResponse', processId: 1, channel: 'c', payload: 'a@b.io' },
  { type: 'CopyOutResponse', format: 0, columnFormats: [0, 0] },
  { type: 'CopyOutResponse', format: 1, columnFormats: [1] },
  { type: 'CopyData', data: Buffer.from('1,"a@b.io"\n2,') },
  { type: 'CopyData', data: Buffer.from('x\n') },
  { type: 'CopyDone' },
  { type: 'CommandComplete', tag: 'COPY 2' },
  { type: 'ParameterStatus', name: 'TimeZone', value: 'UTC' },
  { type: 'ParameterStatus', name: 'client_encoding', value: 'SJIS' },
];

const POLICIES = {
  none: compileSessionPolicy(parser, { masking: [], guardrails: [] }),
  masked: compileSessionPolicy(parser, {
    masking: [{ name: 'emails', match: { kind: 'preset', preset: 'email' }, style: 'full' }],
    guardrails: [],
  }),
  guarded: compileSessionPolicy(parser, {
    masking: [{ name: 'emails', match: { kind: 'column', pattern: 'email' }, style: 'full' }],
    guardrails: [{ kind: 'statement', name: 'no-drop', classes: ['drop'] }],
  }),
};

function frameOf(bytes: Buffer, direction: 'frontend' | 'backend'): Frame {
  const reader = new MessageReader(direction);
  if (direction === 'frontend') reader.expectTyped();
  const frames = reader.push(bytes);
  if (frames.length !== 1) throw new ProtocolError('malformed', 'not one message');
  return frames[0]!;
}

/** Bytes a side receives, parsed back: throws unless they are whole, valid messages. */
function parseAll(bytes: Buffer[], direction: 'frontend' | 'backend'): void {
  const reader = new MessageReader(direction);
  if (direction === 'frontend') reader.expectTyped();
  for (const frame of reader.push(Buffer.concat(bytes))) reader.decode(frame);
  expect(reader.bufferedBytes).toBe(0);
}

function mutate(bytes: Buffer, random: () => number): Buffer {
  const out = Buffer.from(bytes);
  // Keep the length word (the codec's fuzz covers framing): flip bytes of the body.
  for (let i = 0; i < 2 && out.length > 5; i++) {
    const at = 5 + Math.floor(random() * (out.length - 5));
    out[at] = Math.floor(random() * 256);
  }
  return out;
}

describe('PostgresProtocolTracker under random input', () => {
  for (const [name, policy] of Object.entries(POLICIES)) {
    it(`${name}: refuses only with its own errors, forwards only what it got, adds only valid messages`, () => {
      const random = seededRandom(name.length * 7919);
      const started = Date.now();
      let runs = 0;
      let forwardedRows = 0;
      while (runs < 3000 && Date.now() - started < TIME_BUDGET_MS) {
        runs++;
        const tracker = new PostgresProtocolTracker(policy, {
          blocked: () => {},
          unknownColumns: () => {},
        });
        const toServer: Buffer[] = [];
        const toClient: Buffer[] = [];
        const given = new Set<Buffer>();
        const mutated = new Set<Buffer>();
        const decisions = (into: Buffer[], added: Buffer[]) => ({
          forward: (raw: Buffer) => {
            expect(given.has(raw)).toBe(true);
            into.push(raw);
          },
          add: (bytes: Buffer) => {
            into.push(bytes);
            added.push(bytes);
          },
        });
        const addedToServer: Buffer[] = [];
        const addedToClient: Buffer[] = [];
        const serverOut = decisions(toServer, addedToServer);
        const clientOut = decisions(toClient, addedToClient);
        const steps = 1 + Math.floor(random() * 12);
        try {
          for (let step = 0; step < steps; step++) {
            const fromClient = random() < 0.5;
            const message = fromClient
              ? encodeFrontend(CLIENT[Math.floor(random() * CLIENT.length)]!)
              : encodeBackend(SERVER[Math.floor(random() * SERVER.length)]!);
            const bytes = random() < 0.1 ? mutate(message, random) : message;
            const frame = frameOf(bytes, fromClient ? 'frontend' : 'backend');
            given.add(frame.raw);
            if (bytes !== message) mutated.add(frame.raw);
            if (fromClient) {
              tracker.client(frame, serverOut);
              if (tracker.answersDue) tracker.answer(clientOut);
            } else {
              tracker.server(frame, clientOut);
            }
          }
        } catch (error) {
          if (
            !(error instanceof ProtocolError) &&
            !(error instanceof OutOfOrder) &&
            !(error instanceof ClientEncodingChanged) &&
            !(error instanceof LexingSettingChanged)
          ) {
            throw error;
          }
        }
        parseAll(addedToServer, 'frontend');
        parseAll(addedToClient, 'backend');
        // A statement the guardrails block never reaches the server. (A mutated one may no
        // longer be that statement: bytes that are not UTF-8 make it another, invalid one.)
        if (name === 'guarded') {
          for (const bytes of toServer) {
            if (mutated.has(bytes)) continue;
            expect(bytes.toString('latin1').toLowerCase()).not.toContain('drop table');
          }
        }
        if (name === 'none') {
          expect(addedToServer).toEqual([]);
          const rows = toClient.filter((bytes) => bytes[0] === 0x44 /* D */);
          forwardedRows += rows.length;
          for (const row of rows) expect(given.has(row)).toBe(true);
        }
      }
      expect(runs).toBeGreaterThan(100);
      if (name === 'none') expect(forwardedRows).toBeGreaterThan(0);
    });
  }

  it('masks a described result and answers a blocked Parse in its turn (a fixed script)', () => {
    const tracker = new PostgresProtocolTracker(POLICIES.guarded, { blocked: () => {} });
    const toServer: Buffer[] = [];
    const toClient: Buffer[] = [];
    const out = (into: Buffer[]) => ({
      forward: (raw: Buffer) => into.push(raw),
      add: (bytes: Buffer) => into.push(bytes),
    });
    const client = (message: FrontendMessage) =>
      tracker.client(frameOf(encodeFrontend(message), 'frontend'), out(toServer));
    const server = (message: BackendMessage) =>
      tracker.server(frameOf(encodeBackend(message), 'backend'), out(toClient));
    client({ type: 'Query', sql: 'select email from users' });
    server({ type: 'RowDescription', fields: [field('email')] });
    server({ type: 'DataRow', values: [Buffer.from('someone@example.com')] });
    server({ type: 'CommandComplete', tag: 'SELECT 1' });
    server({ type: 'ReadyForQuery', status: 'I' });
    // The masked column is named ahead of its RowDescription (witness.masked_columns, #15).
    expect(toClient[0]).toEqual(
      encodeBackend({ type: 'ParameterStatus', name: 'witness.masked_columns', value: '0' }),
    );
    expect(toClient[2]).toEqual(encodeDataRow([Buffer.from('****')]));
    client({ type: 'Parse', statement: '', sql: 'drop table t', parameterTypes: [] });
    client({ type: 'Sync' });
    expect(toServer.map((b) => String.fromCharCode(b[0]!))).toEqual(['Q', 'S']);
    // Nothing before the refused Parse is owed: its error is due now, the Sync's
    // ReadyForQuery comes from the server after it.
    expect(tracker.answersDue).toBe(true);
    toClient.length = 0;
    tracker.answer(out(toClient));
    server({ type: 'ReadyForQuery', status: 'I' });
    expect(toClient.map((b) => String.fromCharCode(b[0]!))).toEqual(['E', 'Z']);
  });
});
