import { describe, expect, it } from 'vitest';
import {
  type BackendMessage,
  decodeBackend,
  decodeFrontend,
  encodeBackend,
  encodeDataRow,
  encodeErrorResponse,
  encodeFrontend,
  encodeNoticeResponse,
  encodePasswordMessage,
  encodeSASLInitialResponse,
  encodeSASLResponse,
  type Frame,
  type FrontendMessage,
  MessageReader,
  noticeFieldMap,
  noticeFieldsOf,
  ProtocolError,
  parsePasswordMessage,
  parseSASLInitialResponse,
  parseSASLResponse,
} from './codec.ts';
import {
  ALL_BACKEND_SAMPLES,
  ALL_FRONTEND_SAMPLES,
  BACKEND_SAMPLES,
  FRONTEND_SAMPLES,
  readAllFrames,
  recordedStream,
} from './fixtures/sampleMessages.ts';

const UNTYPED = new Set(['StartupMessage', 'SSLRequest', 'GSSENCRequest', 'CancelRequest']);

/** Frames one encoded message through a reader in the phase that message belongs to. */
function frameOf(direction: 'frontend' | 'backend', type: string, bytes: Buffer): Frame {
  const reader = new MessageReader(direction);
  if (direction === 'frontend' && !UNTYPED.has(type)) reader.expectTyped();
  if (type === 'EncryptionResponse') reader.expectEncryptionResponse();
  const frames = reader.push(bytes);
  expect(frames).toHaveLength(1);
  expect(reader.bufferedBytes).toBe(0);
  return frames[0]!;
}

function unencodable(encode: () => unknown): string {
  try {
    encode();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    expect((error as ProtocolError).code).toBe('unencodable');
    return (error as ProtocolError).message;
  }
  throw new Error('expected the encoder to refuse');
}

describe('round trips: decode(encode(m)) equals m, and encode(decode(bytes)) equals bytes', () => {
  it('has samples of every message type', () => {
    for (const samples of [...Object.values(FRONTEND_SAMPLES), ...Object.values(BACKEND_SAMPLES)]) {
      expect(samples.length).toBeGreaterThan(0);
    }
  });

  it.each(ALL_FRONTEND_SAMPLES.map((m, i) => [`${i} ${m.type}`, m] as const))(
    'frontend %s',
    (_, message: FrontendMessage) => {
      const bytes = encodeFrontend(message);
      const frame = frameOf('frontend', message.type, bytes);
      expect(frame.raw.equals(bytes)).toBe(true);
      const decoded = decodeFrontend(frame);
      expect(decoded).toEqual(message);
      expect(encodeFrontend(decoded).equals(frame.raw)).toBe(true);
    },
  );

  it.each(ALL_BACKEND_SAMPLES.map((m, i) => [`${i} ${m.type}`, m] as const))(
    'backend %s',
    (_, message: BackendMessage) => {
      const bytes = encodeBackend(message);
      const frame = frameOf('backend', message.type, bytes);
      expect(frame.raw.equals(bytes)).toBe(true);
      const decoded = decodeBackend(frame);
      expect(decoded).toEqual(message);
      expect(encodeBackend(decoded).equals(frame.raw)).toBe(true);
    },
  );

  it('encodes the documented byte layout', () => {
    expect(encodeFrontend({ type: 'SSLRequest' }).toString('hex')).toBe('0000000804d2162f');
    expect(encodeFrontend({ type: 'GSSENCRequest' }).toString('hex')).toBe('0000000804d21630');
    expect(
      encodeFrontend({ type: 'CancelRequest', processId: 1, secretKey: Buffer.from('abcd') }),
    ).toEqual(Buffer.from('0000001004d2162e0000000161626364', 'hex'));
    expect(encodeFrontend({ type: 'Query', sql: 'SELECT 1' })).toEqual(
      Buffer.from('Q\0\0\0\x0dSELECT 1\0', 'latin1'),
    );
    expect(encodeBackend({ type: 'ReadyForQuery', status: 'I' })).toEqual(
      Buffer.from('Z\0\0\0\x05I', 'latin1'),
    );
    expect(encodeBackend({ type: 'AuthenticationOk' })).toEqual(
      Buffer.from('R\0\0\0\x08\0\0\0\0', 'latin1'),
    );
    expect(encodeDataRow([Buffer.from('ab'), null])).toEqual(
      Buffer.from('D\0\0\0\x10\0\x02\0\0\0\x02ab\xff\xff\xff\xff', 'latin1'),
    );
  });
});

describe('real sessions (psql 15 and node-postgres against PostgreSQL 15)', () => {
  const sessions = ['psql', 'node-postgres'] as const;

  it.each(sessions)('%s: every frame decodes and re-encodes to the same bytes', (session) => {
    for (const direction of ['frontend', 'backend'] as const) {
      const stream = recordedStream(session, direction);
      const reader = new MessageReader(direction);
      if (direction === 'backend' && session === 'psql') reader.expectEncryptionResponse();
      const frames = readAllFrames(reader, [stream]);
      expect(reader.bufferedBytes).toBe(0);
      expect(Buffer.concat(frames.map((f) => f.raw)).equals(stream)).toBe(true);
      for (const frame of frames) {
        const encoded =
          direction === 'frontend'
            ? encodeFrontend(decodeFrontend(frame))
            : encodeBackend(decodeBackend(frame));
        expect(encoded.equals(frame.raw), `${direction} '${frame.type}'`).toBe(true);
      }
    }
  });

  it('psql: startup, SCRAM, queries, COPY, notices, errors and fast-path calls decode as expected', () => {
    const frontend = new MessageReader('frontend');
    const sent = readAllFrames(frontend, [recordedStream('psql', 'frontend')]).map((f) =>
      frontend.decode(f),
    );
    expect(sent[0]).toEqual({ type: 'SSLRequest' });
    const startup = sent[1]!;
    expect(startup.type === 'StartupMessage' && Object.fromEntries(startup.parameters)).toEqual({
      user: 'witness',
      database: 'postgres',
      application_name: 'codec-fixture',
    });
    const [first, second] = sent.filter((m) => m.type === 'AuthenticationResponse');
    const initial = parseSASLInitialResponse(first!);
    expect(initial.mechanism).toBe('SCRAM-SHA-256');
    expect(initial.data?.toString()).toMatch(/^n,,n=,r=/);
    expect(parseSASLResponse(second!).toString()).toMatch(/^c=biws,r=.*,p=/);
    expect(sent).toContainEqual({ type: 'Query', sql: 'COPY t FROM STDIN;' });
    expect(sent).toContainEqual({ type: 'CopyData', data: Buffer.from('3\tc\n4\t\\\\N\n\\.\n') });
    expect(sent.filter((m) => m.type === 'FunctionCall')).toHaveLength(4);
    expect(sent.at(-1)).toEqual({ type: 'Terminate' });

    const backend = new MessageReader('backend');
    backend.expectEncryptionResponse();
    const received = readAllFrames(backend, [recordedStream('psql', 'backend')]).map((f) =>
      backend.decode(f),
    );
    expect(received[0]).toEqual({ type: 'EncryptionResponse', answer: 'N' });
    expect(received[1]).toEqual({ type: 'AuthenticationSASL', mechanisms: ['SCRAM-SHA-256'] });
    const firstRow = received.find((m) => m.type === 'DataRow');
    expect(firstRow?.type === 'DataRow' && firstRow.values.map((v) => v?.toString())).toEqual([
      '1',
      undefined,
      'héllo ✓',
      '\\x5c786465616462656566',
      '{1,2,3}',
      '{"a": [1, 2]}',
      '12345.678',
      '2024-01-02 03:04:05+00',
    ]);
    const columns = received.find((m) => m.type === 'RowDescription');
    expect(columns?.type === 'RowDescription' && columns.fields.map((f) => f.typeOid)).toEqual([
      23, 25, 25, 17, 1007, 3802, 1700, 1184,
    ]);
    const error = received.find((m) => m.type === 'ErrorResponse');
    expect(error?.type === 'ErrorResponse' && noticeFieldsOf(error.fields)).toMatchObject({
      severity: 'ERROR',
      severityNonLocalized: 'ERROR',
      code: '22012',
      message: 'division by zero',
    });
    const notice = received.find((m) => m.type === 'NoticeResponse');
    expect(notice?.type === 'NoticeResponse' && noticeFieldsOf(notice.fields)).toMatchObject({
      severity: 'NOTICE',
      code: '00000',
      message: 'a notice with detail',
      detail: 'the detail',
      hint: 'the hint',
    });
    expect(received).toContainEqual(
      expect.objectContaining({ type: 'NotificationResponse', channel: 'ch', payload: 'payload' }),
    );
    expect(received).toContainEqual({ type: 'CopyOutResponse', format: 0, columnFormats: [0, 0] });
    expect(received).toContainEqual({ type: 'CopyInResponse', format: 0, columnFormats: [0, 0] });
    expect(received).toContainEqual({ type: 'EmptyQueryResponse' });
    expect(received.filter((m) => m.type === 'DataRow')).toHaveLength(67);
  });

  it('node-postgres: the extended protocol with text, binary and NULL parameters', () => {
    const frontend = new MessageReader('frontend');
    const sent = readAllFrames(frontend, [recordedStream('node-postgres', 'frontend')]).map((f) =>
      frontend.decode(f),
    );
    expect(sent).toContainEqual({
      type: 'Parse',
      statement: 'by_id',
      sql: 'SELECT $1::text AS v, now() AS n',
      parameterTypes: [],
    });
    const bind = sent.find((m) => m.type === 'Bind');
    expect(bind).toEqual({
      type: 'Bind',
      portal: '',
      statement: '',
      parameterFormats: [0, 0, 0, 1],
      parameters: [Buffer.from('1'), Buffer.from('2'), null, Buffer.from([0, 1, 2, 255])],
      resultFormats: [0],
    });
    expect(sent).toContainEqual(expect.objectContaining({ type: 'Bind', resultFormats: [1] }));
    expect(sent).toContainEqual({ type: 'Describe', target: 'portal', name: '' });
    expect(sent).toContainEqual({ type: 'Execute', portal: '', maxRows: 0 });

    const backend = new MessageReader('backend');
    const received = readAllFrames(backend, [recordedStream('node-postgres', 'backend')]).map((f) =>
      backend.decode(f),
    );
    expect(received).toContainEqual({ type: 'ParseComplete' });
    expect(received).toContainEqual({ type: 'BindComplete' });
    expect(received).toContainEqual({
      type: 'DataRow',
      values: [Buffer.from([0, 0, 0, 42]), Buffer.from('3ff8000000000000', 'hex')],
    });
    const error = received.find((m) => m.type === 'ErrorResponse');
    expect(error?.type === 'ErrorResponse' && error.fields.get('C')).toBe('22P02');
  });
});

describe("'p' messages (meaning depends on the authentication exchange)", () => {
  const asResponse = (bytes: Buffer) => {
    const message = decodeFrontend({ type: 'p', raw: bytes, body: bytes.subarray(5) });
    if (message.type !== 'AuthenticationResponse') throw new Error('not a p message');
    return message;
  };

  it('reads and writes a PasswordMessage', () => {
    const message = asResponse(encodePasswordMessage('wtk_ticket ✓'));
    expect(parsePasswordMessage(message)).toBe('wtk_ticket ✓');
  });

  it('reads and writes SASLInitialResponse, with and without initial data', () => {
    const data = Buffer.from('n,,n=,r=abc');
    expect(
      parseSASLInitialResponse(asResponse(encodeSASLInitialResponse('SCRAM-SHA-256', data))),
    ).toEqual({
      mechanism: 'SCRAM-SHA-256',
      data,
    });
    expect(
      parseSASLInitialResponse(asResponse(encodeSASLInitialResponse('SCRAM-SHA-256', null))),
    ).toEqual({ mechanism: 'SCRAM-SHA-256', data: null });
  });

  it('reads and writes SASLResponse', () => {
    const data = Buffer.from('c=biws,r=abc,p=xyz');
    expect(parseSASLResponse(asResponse(encodeSASLResponse(data)))).toEqual(data);
  });

  it('refuses a body that is not the form asked for', () => {
    const sasl = asResponse(encodeSASLInitialResponse('SCRAM-SHA-256', Buffer.from('x')));
    expect(() => parsePasswordMessage(sasl)).toThrow(/Malformed PasswordMessage message/);
    const password = asResponse(encodePasswordMessage('secret'));
    expect(() => parseSASLInitialResponse(password)).toThrow(
      expect.objectContaining({ code: 'malformed' }),
    );
    const lying = asResponse(
      Buffer.concat([
        Buffer.from('p\0\0\0\x16SCRAM-SHA-256\0', 'latin1'),
        Buffer.from([0, 0, 0, 9]), // declares 9 bytes of data, none follow
      ]),
    );
    expect(() => parseSASLInitialResponse(lying)).toThrow(/needs 9 bytes but only 0 remain/);
  });
});

describe('ErrorResponse and NoticeResponse fields', () => {
  it('encodes the gateway’s own errors with SQLSTATE, severity, message, detail and hint', () => {
    const bytes = encodeErrorResponse({
      severity: 'ERROR',
      code: '42501',
      message: 'Statement blocked by guardrail "no-drop"',
      detail: 'DROP TABLE is not allowed on prod-db',
      hint: 'Request an exception from an admin',
    });
    const message = decodeBackend({ type: 'E', raw: bytes, body: bytes.subarray(5) });
    expect(message).toEqual({
      type: 'ErrorResponse',
      fields: new Map([
        ['S', 'ERROR'],
        ['V', 'ERROR'],
        ['C', '42501'],
        ['M', 'Statement blocked by guardrail "no-drop"'],
        ['D', 'DROP TABLE is not allowed on prod-db'],
        ['H', 'Request an exception from an admin'],
      ]),
    });
    const notice = encodeNoticeResponse({ severity: 'WARNING', code: '01000', message: 'careful' });
    expect(notice[0]).toBe('N'.charCodeAt(0));
  });

  it('names every documented field and keeps unknown ones', () => {
    const fields = new Map([
      ['S', 'ERROR'],
      ['C', '23505'],
      ['M', 'duplicate key'],
      ['s', 'public'],
      ['t', 'users'],
      ['n', 'users_pkey'],
      ['P', '15'],
      ['Z', 'a future field'],
    ]);
    const named = noticeFieldsOf(fields);
    expect(named).toEqual({
      severity: 'ERROR',
      code: '23505',
      message: 'duplicate key',
      schema: 'public',
      table: 'users',
      constraint: 'users_pkey',
      position: '15',
      other: new Map([['Z', 'a future field']]),
    });
    expect([...noticeFieldMap(named).keys()]).toEqual([
      'S',
      'V',
      'C',
      'M',
      'P',
      's',
      't',
      'n',
      'Z',
    ]);
  });
});

describe('encoders refuse what the wire cannot carry', () => {
  it('a NUL inside a string (it would end the string and inject fields)', () => {
    expect(unencodable(() => encodeFrontend({ type: 'Query', sql: 'SELECT 1\0X' }))).toMatch(
      /Query: the query string contains a NUL byte/,
    );
    expect(
      unencodable(() =>
        encodeErrorResponse({ severity: 'ERROR', code: '42501', message: 'no\0Mforged' }),
      ),
    ).toMatch(/field 'M' contains a NUL byte/);
    expect(
      unencodable(() =>
        encodeFrontend({
          type: 'StartupMessage',
          protocolVersion: { major: 3, minor: 0 },
          parameters: new Map([['', 'x']]),
        }),
      ),
    ).toMatch(/parameter name is empty/);
  });

  it('numbers out of their field’s range', () => {
    expect(
      unencodable(() =>
        encodeBackend({ type: 'BackendKeyData', processId: 2 ** 31, secretKey: Buffer.alloc(4) }),
      ),
    ).toMatch(/process id is 2147483648/);
    expect(
      unencodable(() => encodeFrontend({ type: 'Execute', portal: '', maxRows: 1.5 })),
    ).toMatch(/row limit/);
    expect(unencodable(() => encodeDataRow(new Array(65536).fill(null)))).toMatch(/65536 columns/);
    expect(
      unencodable(() =>
        encodeFrontend({ type: 'Parse', statement: '', sql: '', parameterTypes: [-1] }),
      ),
    ).toMatch(/parameter type OID is -1/);
  });

  it('fixed-size and bounded fields of the wrong size', () => {
    expect(
      unencodable(() =>
        encodeBackend({ type: 'AuthenticationMD5Password', salt: Buffer.alloc(3) }),
      ),
    ).toMatch(/salt is 3 bytes/);
    expect(
      unencodable(() =>
        encodeFrontend({ type: 'CancelRequest', processId: 1, secretKey: Buffer.alloc(257) }),
      ),
    ).toMatch(/secret key is 257 bytes/);
    expect(
      unencodable(() =>
        encodeBackend({ type: 'ErrorResponse', fields: new Map([['XY', 'two letters']]) }),
      ),
    ).toMatch(/field code "XY"/);
  });
});
