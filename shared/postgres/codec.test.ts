import { describe, expect, it } from 'vitest';
import {
  type BackendMessage,
  DEFAULT_MAX_BACKEND_MESSAGE_BYTES,
  DEFAULT_MAX_FRONTEND_MESSAGE_BYTES,
  type Direction,
  decodeBackend,
  decodeFrontend,
  encodeBackend,
  encodeDataRow,
  encodeFrontend,
  type Frame,
  type FrontendMessage,
  MessageReader,
  ProtocolError,
  type ProtocolErrorCode,
} from './codec.ts';
import {
  ALL_BACKEND_SAMPLES,
  ALL_FRONTEND_SAMPLES,
  randomSplit,
  readAllFrames,
  recordedStream,
  seededRandom,
} from './fixtures/sampleMessages.ts';

const UNTYPED = new Set(['StartupMessage', 'SSLRequest', 'GSSENCRequest', 'CancelRequest']);

const typedFrontend = ALL_FRONTEND_SAMPLES.filter((m) => !UNTYPED.has(m.type));
const typedBackend = ALL_BACKEND_SAMPLES.filter((m) => m.type !== 'EncryptionResponse');

const startup = (parameters: Record<string, string>, major = 3, minor = 0) =>
  encodeFrontend({
    type: 'StartupMessage',
    protocolVersion: { major, minor },
    parameters: new Map(Object.entries(parameters)),
  });

/** A backend stream: every typed sample, a 300 KiB DataRow, and a 1,000-row result. */
function backendStream(): Buffer {
  const parts = typedBackend.map((m) => encodeBackend(m));
  parts.push(encodeDataRow([Buffer.alloc(300 * 1024, 0x61), null]));
  for (let i = 0; i < 1000; i++) {
    parts.push(encodeDataRow([Buffer.from(String(i)), Buffer.from(`user${i}@example.com`), null]));
  }
  parts.push(encodeBackend({ type: 'CommandComplete', tag: 'SELECT 1000' }));
  return Buffer.concat(parts);
}

/** A frontend stream with its startup phase: SSLRequest, GSSENCRequest, StartupMessage, typed. */
function frontendStream(): Buffer {
  return Buffer.concat([
    encodeFrontend({ type: 'SSLRequest' }),
    encodeFrontend({ type: 'GSSENCRequest' }),
    startup({ user: 'ses_1', database: 'app' }),
    ...typedFrontend.map((m) => encodeFrontend(m)),
    encodeFrontend({ type: 'Query', sql: `SELECT '${'x'.repeat(100_000)}'` }),
  ]);
}

function rawsOf(frames: Frame[]): string[] {
  return frames.map((f) => `${f.type}:${f.raw.toString('hex')}`);
}

function protocolErrorOf(action: () => unknown): ProtocolError {
  try {
    action();
  } catch (error) {
    if (error instanceof ProtocolError) return error;
    throw new Error(`expected a ProtocolError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected a ProtocolError, but nothing was thrown');
}

function typedReader<D extends Direction>(direction: D, options = {}): MessageReader<D> {
  const reader = new MessageReader(direction, options);
  if (direction === 'frontend') reader.expectTyped();
  return reader;
}

describe('MessageReader framing', () => {
  it('returns every message of a chunk, in order, with type, raw and body', () => {
    const stream = backendStream();
    const reader = new MessageReader('backend');
    const frames = reader.push(stream);
    expect(frames).toHaveLength(typedBackend.length + 1002);
    expect(Buffer.concat(frames.map((f) => f.raw)).equals(stream)).toBe(true);
    expect(reader.bufferedBytes).toBe(0);
    const last = frames.at(-1)!;
    expect(last.type).toBe('C');
    expect(last.body.toString()).toBe('SELECT 1000\0');
    expect(reader.decode(last)).toEqual({ type: 'CommandComplete', tag: 'SELECT 1000' });
  });

  it('returns nothing for an empty push, or until a message is complete', () => {
    const reader = typedReader('frontend');
    expect(reader.push()).toEqual([]);
    expect(reader.push(Buffer.alloc(0))).toEqual([]);
    const query = encodeFrontend({ type: 'Query', sql: 'SELECT 1' });
    expect(reader.push(query.subarray(0, 3))).toEqual([]);
    expect(reader.push(query.subarray(3, 9))).toEqual([]);
    expect(reader.bufferedBytes).toBe(9);
    expect(rawsOf(reader.push(query.subarray(9)))).toEqual(
      rawsOf([{ type: 'Q', raw: query, body: query }]),
    );
  });

  it('decode() types its result by direction', () => {
    const frontend = typedReader('frontend');
    const [frame] = frontend.push(encodeFrontend({ type: 'Query', sql: 'SELECT 1' }));
    const message: FrontendMessage = frontend.decode(frame!);
    expect(message).toEqual({ type: 'Query', sql: 'SELECT 1' });
    const backend = new MessageReader('backend');
    const [row] = backend.push(encodeDataRow([Buffer.from('x')]));
    const decoded: BackendMessage = backend.decode(row!);
    expect(decoded).toEqual({ type: 'DataRow', values: [Buffer.from('x')] });
  });
});

describe('MessageReader chunking: the same frames however the bytes arrive', () => {
  const cases = [
    { name: 'backend', stream: backendStream(), reader: () => new MessageReader('backend') },
    { name: 'frontend', stream: frontendStream(), reader: () => new MessageReader('frontend') },
    {
      name: 'psql backend (recorded)',
      stream: recordedStream('psql', 'backend'),
      reader: () => {
        const reader = new MessageReader('backend');
        reader.expectEncryptionResponse();
        return reader;
      },
    },
    {
      name: 'psql frontend (recorded)',
      stream: recordedStream('psql', 'frontend'),
      reader: () => new MessageReader('frontend'),
    },
  ];

  it.each(cases)('$name: byte by byte', ({ stream, reader }) => {
    const whole = readAllFrames(reader(), [stream]);
    const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    const byByte = reader();
    expect(rawsOf(readAllFrames(byByte, bytes))).toEqual(rawsOf(whole));
    expect(byByte.bufferedBytes).toBe(0);
  });

  it.each(cases)(
    '$name: random splits (seeds 1–20, chunks up to 7 bytes … 64 KiB)',
    ({ stream, reader }) => {
      const whole = rawsOf(readAllFrames(reader(), [stream]));
      for (let seed = 1; seed <= 20; seed++) {
        const random = seededRandom(seed);
        const maxChunk = [7, 64, 1500, 65536][seed % 4]!;
        const split = reader();
        const frames = readAllFrames(split, randomSplit(stream, random, maxChunk));
        expect(rawsOf(frames), `seed ${seed}`).toEqual(whole);
        expect(split.bufferedBytes).toBe(0);
      }
    },
  );
});

describe('MessageReader zero copy ("Unchanged messages are forwarded without copying")', () => {
  it('a whole message inside one chunk is a view of that chunk, not a copy', () => {
    const messages = [
      encodeBackend({ type: 'RowDescription', fields: [] }),
      encodeDataRow([Buffer.from('alice'), null]),
      encodeBackend({ type: 'CommandComplete', tag: 'SELECT 1' }),
    ];
    // Not from Buffer's shared pool, so "same ArrayBuffer" means "this chunk".
    const chunk = Buffer.alloc(messages.reduce((n, m) => n + m.length, 0));
    Buffer.concat(messages).copy(chunk);
    const frames = new MessageReader('backend').push(chunk);
    let offset = 0;
    for (const [i, frame] of frames.entries()) {
      expect(frame.raw.buffer).toBe(chunk.buffer);
      expect(frame.raw.byteOffset).toBe(chunk.byteOffset + offset);
      expect(frame.body.buffer).toBe(chunk.buffer);
      offset += messages[i]!.length;
    }
    const row = decodeBackend(frames[1]!);
    expect(row.type === 'DataRow' && row.values[0]!.buffer).toBe(chunk.buffer);
    chunk[frames[1]!.raw.byteOffset - chunk.byteOffset + 11] = 0x41; // 'alice' → 'Alice'
    expect(row.type === 'DataRow' && row.values[0]!.toString()).toBe('Alice');
  });

  it('a message split across chunks is assembled once; whole messages after it are views again', () => {
    const first = encodeDataRow([Buffer.alloc(1000, 0x62)]);
    const second = encodeBackend({ type: 'CommandComplete', tag: 'SELECT 1' });
    const a = Buffer.alloc(600);
    first.copy(a, 0, 0, 600);
    const b = Buffer.alloc(first.length - 600 + second.length);
    first.copy(b, 0, 600);
    second.copy(b, first.length - 600);
    const reader = new MessageReader('backend');
    expect(reader.push(a)).toEqual([]);
    const frames = reader.push(b);
    expect(frames).toHaveLength(2);
    expect(frames[0]!.raw.equals(first)).toBe(true);
    expect(frames[0]!.raw.buffer).not.toBe(a.buffer);
    expect(frames[0]!.raw.buffer).not.toBe(b.buffer);
    expect(frames[1]!.raw.buffer).toBe(b.buffer);
    expect(frames[1]!.raw.byteOffset).toBe(b.byteOffset + first.length - 600);
  });
});

describe('MessageReader phases', () => {
  it('holds after a startup packet until told what follows; bytes behind an SSLRequest stay visible', () => {
    const reader = new MessageReader('frontend');
    expect(reader.phase).toBe('startup');
    const injected = encodeFrontend({ type: 'Query', sql: 'DROP TABLE users' });
    const frames = reader.push(Buffer.concat([encodeFrontend({ type: 'SSLRequest' }), injected]));
    expect(frames.map((f) => reader.decode(f))).toEqual([{ type: 'SSLRequest' }]);
    expect(reader.isHeld).toBe(true);
    // CVE-2021-23214: these arrived unencrypted and must not be read as if they came over TLS.
    expect(reader.bufferedBytes).toBe(injected.length);
    expect(reader.push(Buffer.from([1, 2, 3]))).toEqual([]);
    expect(reader.bufferedBytes).toBe(injected.length + 3);
  });

  it('after SSLRequest/GSSENCRequest answered, reads the next startup packet; after StartupMessage, typed messages', () => {
    const reader = new MessageReader('frontend');
    const query = encodeFrontend({ type: 'Query', sql: 'SELECT 1' });
    const chunk = Buffer.concat([
      encodeFrontend({ type: 'GSSENCRequest' }),
      startup({ user: 'ses_1' }),
      query,
    ]);
    expect(reader.push(chunk).map((f) => f.type)).toEqual(['startup']);
    const next = reader.expectStartup();
    expect(next.map((f) => reader.decode(f).type)).toEqual(['StartupMessage']);
    expect(reader.isHeld).toBe(true);
    expect(reader.bufferedBytes).toBe(query.length);
    const typed = reader.expectTyped();
    expect(reader.phase).toBe('typed');
    expect(typed.map((f) => reader.decode(f))).toEqual([{ type: 'Query', sql: 'SELECT 1' }]);
  });

  it('backend: reads the one-byte encryption answer, then holds (CVE-2021-23222)', () => {
    const reader = new MessageReader('backend');
    expect(reader.phase).toBe('typed');
    reader.expectEncryptionResponse();
    const injected = encodeBackend({ type: 'AuthenticationOk' });
    const frames = reader.push(Buffer.concat([Buffer.from('S'), injected]));
    expect(frames.map((f) => reader.decode(f))).toEqual([
      { type: 'EncryptionResponse', answer: 'S' },
    ]);
    expect(frames[0]!.raw.length).toBe(1);
    expect(reader.isHeld).toBe(true);
    expect(reader.bufferedBytes).toBe(injected.length);
    expect(reader.expectTyped().map((f) => reader.decode(f))).toEqual([
      { type: 'AuthenticationOk' },
    ]);
  });

  it('backend: an ErrorResponse instead of the answer is read as a typed message', () => {
    const reader = new MessageReader('backend');
    reader.expectEncryptionResponse();
    const error = encodeBackend({
      type: 'ErrorResponse',
      fields: new Map([
        ['S', 'FATAL'],
        ['M', 'unsupported frontend protocol'],
      ]),
    });
    const frames = reader.push(error);
    expect(frames.map((f) => reader.decode(f).type)).toEqual(['ErrorResponse']);
    expect(reader.isHeld).toBe(false);
    expect(reader.phase).toBe('typed');
  });

  it('refuses phase calls that make no sense for the direction', () => {
    expect(() => new MessageReader('backend').expectStartup()).toThrow(/frontend reader/);
    expect(() => new MessageReader('frontend').expectEncryptionResponse()).toThrow(
      /backend reader/,
    );
    const reader = typedReader('frontend');
    reader.push(encodeFrontend({ type: 'Query', sql: 'SELECT 1' }).subarray(0, 7));
    expect(() => reader.expectStartup()).toThrow(/middle of a message/);
  });
});

interface BadInput {
  name: string;
  direction: Direction;
  phase?: 'startup' | 'typed' | 'encryptionResponse';
  bytes: Buffer;
  code: ProtocolErrorCode;
  message: RegExp;
  options?: { maxMessageBytes?: number; maxStartupBytes?: number };
}

const int32 = (value: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
};
const typed = (type: string, length: number, body: Buffer = Buffer.alloc(0)) =>
  Buffer.concat([Buffer.from(type, 'latin1'), int32(length), body]);

/** Framing refuses these as soon as the bytes that prove them wrong have arrived. */
const BAD_FRAMES: BadInput[] = [
  ...[0, 1, 2, 3].flatMap((length): BadInput[] => [
    {
      name: `frontend length ${length}`,
      direction: 'frontend',
      bytes: typed('Q', length),
      code: 'malformed',
      message: new RegExp(`Message 'Q' from the client declares length ${length}; .* at least 4`),
    },
    {
      name: `backend length ${length}`,
      direction: 'backend',
      bytes: typed('D', length),
      code: 'malformed',
      message: /Message 'D' from the server declares length/,
    },
  ]),
  {
    name: 'negative length',
    direction: 'frontend',
    bytes: typed('Q', -1),
    code: 'malformed',
    message: /declares length -1/,
  },
  {
    name: 'length 2^31-1 from a client',
    direction: 'frontend',
    bytes: typed('Q', 2 ** 31 - 1),
    code: 'message_too_large',
    message: /^Message 'Q' of 2147483648 bytes from the client exceeds the 64 MiB limit$/,
  },
  {
    name: 'length 2^31-1 from a server',
    direction: 'backend',
    bytes: typed('D', 2 ** 31 - 1),
    code: 'message_too_large',
    message: /exceeds the 1 GiB limit/,
  },
  {
    name: 'one byte over a configured limit',
    direction: 'backend',
    bytes: typed('D', 1024),
    options: { maxMessageBytes: 1024 },
    code: 'message_too_large',
    message: /Message 'D' of 1025 bytes from the server exceeds the 1 KiB limit/,
  },
  {
    name: 'unknown frontend type byte',
    direction: 'frontend',
    bytes: Buffer.from('z'),
    code: 'unknown_message',
    message: /Unknown frontend message type 'z' \(0x7a\)/,
  },
  {
    name: 'a backend-only type from the client',
    direction: 'frontend',
    bytes: typed('T', 6, Buffer.from([0, 0])),
    code: 'unknown_message',
    message: /'T'/,
  },
  {
    name: 'a NUL type byte from the server',
    direction: 'backend',
    bytes: Buffer.from([0, 0, 0, 0, 4]),
    code: 'unknown_message',
    message: /Unknown backend message type 0x00/,
  },
  {
    name: 'an HTTP request instead of a startup packet',
    direction: 'frontend',
    phase: 'startup',
    bytes: Buffer.from('GET / HTTP/1.1\r\nHost: db\r\n\r\n'),
    code: 'malformed',
    message: /sent text \("GET "…\) .* HTTP/,
  },
  {
    name: 'a TLS ClientHello instead of an SSLRequest (direct SSL)',
    direction: 'frontend',
    phase: 'startup',
    bytes: Buffer.from('160301020001', 'hex'),
    code: 'unsupported_protocol',
    message: /sslnegotiation=postgres/,
  },
  {
    name: 'startup packet length 7',
    direction: 'frontend',
    phase: 'startup',
    bytes: Buffer.concat([int32(7), Buffer.alloc(3)]),
    code: 'malformed',
    message: /Startup packet declares length 7; it must be at least 8/,
  },
  {
    name: 'startup packet over 10000 bytes',
    direction: 'frontend',
    phase: 'startup',
    bytes: int32(10_001),
    code: 'message_too_large',
    message: /Startup packet of 10001 bytes exceeds the 10000 bytes limit/,
  },
  {
    name: 'an encryption answer that is none of S, G, N, E',
    direction: 'backend',
    phase: 'encryptionResponse',
    bytes: Buffer.from('X'),
    code: 'malformed',
    message: /answered an encryption request with byte 0x58/,
  },
];

/** Framed fine, refused when decoded. */
const BAD_MESSAGES: BadInput[] = [
  {
    name: 'StartupMessage for protocol 2.0',
    direction: 'frontend',
    phase: 'startup',
    bytes: startup({ user: 'u' }, 2, 0),
    code: 'unsupported_protocol',
    message: /protocol 2\.0; only protocol 3 is supported/,
  },
  {
    name: 'StartupMessage without the trailing NUL',
    direction: 'frontend',
    phase: 'startup',
    bytes: (() => {
      const good = startup({ user: 'u' });
      const bad = Buffer.from(good.subarray(0, good.length - 1));
      bad.writeInt32BE(bad.length);
      return bad;
    })(),
    code: 'malformed',
    message:
      /Malformed StartupMessage message: a parameter name \(or the final NUL terminator\) has no terminating NUL/,
  },
  {
    name: 'StartupMessage with a value cut off',
    direction: 'frontend',
    phase: 'startup',
    bytes: Buffer.concat([int32(14), int32(196608), Buffer.from('user\0u')]),
    code: 'malformed',
    message: /the value of parameter "user" has no terminating NUL/,
  },
  {
    name: 'StartupMessage naming "user" twice',
    direction: 'frontend',
    phase: 'startup',
    bytes: (() => {
      const body = Buffer.from('user\0a\0user\0b\0\0');
      return Buffer.concat([int32(8 + body.length), int32(196608), body]);
    })(),
    code: 'malformed',
    message: /parameter "user" appears twice/,
  },
  {
    name: 'SSLRequest with extra bytes',
    direction: 'frontend',
    phase: 'startup',
    bytes: Buffer.concat([int32(12), int32(80877103), int32(0)]),
    code: 'malformed',
    message: /4 unexpected bytes/,
  },
  {
    name: 'CancelRequest with a 2-byte key',
    direction: 'frontend',
    phase: 'startup',
    bytes: Buffer.concat([int32(14), int32(80877102), int32(1), Buffer.alloc(2)]),
    code: 'malformed',
    message: /secret key is 2 bytes; it must be 4 to 256/,
  },
  {
    name: 'Bind declaring 5 parameters but holding 2',
    direction: 'frontend',
    bytes: (() => {
      const body = Buffer.concat([
        Buffer.from('\0\0'), // portal, statement
        Buffer.from([0, 0]), // no format codes
        Buffer.from([0, 5]), // 5 parameters
        int32(1),
        Buffer.from('a'),
        int32(-1),
      ]);
      return typed('B', 4 + body.length, body);
    })(),
    code: 'malformed',
    message:
      /^Malformed Bind message: the length of parameter 3 of 5 needs 4 bytes but only 0 remain$/,
  },
  {
    name: 'Bind with 3 format codes for 2 parameters',
    direction: 'frontend',
    bytes: (() => {
      const body = Buffer.concat([
        Buffer.from('\0\0'), // portal, statement
        Buffer.from([0, 3, 0, 0, 0, 0, 0, 0]), // 3 format codes
        Buffer.from([0, 2]), // 2 parameters
        int32(-1),
        int32(-1),
        Buffer.from([0, 0]), // no result format codes
      ]);
      return typed('B', 4 + body.length, body);
    })(),
    code: 'malformed',
    message: /^Malformed Bind message: 3 parameter format codes for 2 parameters$/,
  },
  {
    name: 'Bind parameter length -2',
    direction: 'frontend',
    bytes: (() => {
      const body = Buffer.concat([Buffer.from([0, 0, 0, 0, 0, 1]), int32(-2), Buffer.from([0, 0])]);
      return typed('B', 4 + body.length, body);
    })(),
    code: 'malformed',
    message: /parameter 1 of 1 has length -2; only -1 \(NULL\) may be negative/,
  },
  {
    name: 'DataRow declaring 3 columns but holding 1',
    direction: 'backend',
    bytes: (() => {
      const body = Buffer.concat([Buffer.from([0, 3]), int32(2), Buffer.from('ab')]);
      return typed('D', 4 + body.length, body);
    })(),
    code: 'malformed',
    message:
      /^Malformed DataRow message: the length of column 2 of 3 needs 4 bytes but only 0 remain$/,
  },
  {
    name: 'DataRow column longer than the message',
    direction: 'backend',
    bytes: (() => {
      const body = Buffer.concat([Buffer.from([0, 1]), int32(1_000_000), Buffer.from('ab')]);
      return typed('D', 4 + body.length, body);
    })(),
    code: 'malformed',
    message: /column 1 of 1 needs 1000000 bytes but only 2 remain/,
  },
  {
    name: 'DataRow with bytes after the last column',
    direction: 'backend',
    bytes: (() => {
      const body = Buffer.concat([Buffer.from([0, 1]), int32(-1), Buffer.from('zz')]);
      return typed('D', 4 + body.length, body);
    })(),
    code: 'malformed',
    message: /2 unexpected bytes after the last field/,
  },
  {
    name: 'RowDescription declaring 2 fields but holding 1',
    direction: 'backend',
    bytes: (() => {
      const one = encodeBackend({
        type: 'RowDescription',
        fields: [
          {
            name: 'id',
            tableOid: 0,
            columnAttnum: 0,
            typeOid: 23,
            typeSize: 4,
            typeModifier: -1,
            format: 0,
          },
        ],
      });
      one.writeUInt16BE(2, 5);
      return one;
    })(),
    code: 'malformed',
    message: /the name of field 2 of 2 has no terminating NUL/,
  },
  {
    name: 'RowDescription claiming 65535 fields in 2 bytes',
    direction: 'backend',
    bytes: typed('T', 6, Buffer.from([0xff, 0xff])),
    code: 'malformed',
    message: /field 1 of 65535/,
  },
  {
    name: 'RowDescription field cut inside its type OID',
    direction: 'backend',
    bytes: (() => {
      const body = Buffer.concat([
        Buffer.from([0, 1]),
        Buffer.from('id\0'),
        int32(0),
        Buffer.from([0, 1, 0]),
      ]);
      return typed('T', 4 + body.length, body);
    })(),
    code: 'malformed',
    message: /the type OID of field 1 of 1 needs 4 bytes but only 1 remain/,
  },
  {
    name: 'ErrorResponse without its terminator',
    direction: 'backend',
    bytes: typed('E', 4 + 8, Buffer.from('SERROR\0M')),
    code: 'malformed',
    message: /field 'M' has no terminating NUL/,
  },
  {
    name: 'ReadyForQuery with status X',
    direction: 'backend',
    bytes: typed('Z', 5, Buffer.from('X')),
    code: 'malformed',
    message: /transaction status 0x58/,
  },
  {
    name: 'Describe of neither statement nor portal',
    direction: 'frontend',
    bytes: typed('D', 6, Buffer.from('X\0')),
    code: 'malformed',
    message: /neither 'S' \(statement\) nor 'P' \(portal\)/,
  },
  {
    name: 'Sync with a body',
    direction: 'frontend',
    bytes: typed('S', 5, Buffer.from('x')),
    code: 'malformed',
    message: /Malformed Sync message: 1 unexpected bytes/,
  },
  {
    name: 'an authentication method nobody defined',
    direction: 'backend',
    bytes: typed('R', 8, int32(99)),
    code: 'unknown_message',
    message: /authentication method 99/,
  },
  {
    name: 'AuthenticationMD5Password with a 2-byte salt',
    direction: 'backend',
    bytes: typed('R', 10, Buffer.concat([int32(5), Buffer.from([1, 2])])),
    code: 'malformed',
    message: /the MD5 salt needs 4 bytes but only 2 remain/,
  },
  {
    name: 'NegotiateProtocolVersion claiming 2^31-1 options and sending none',
    direction: 'backend',
    bytes: typed('v', 12, Buffer.concat([int32(0), int32(2 ** 31 - 1)])),
    code: 'malformed',
    message: /unrecognized option 1 of 2147483647 has no terminating NUL/,
  },
  {
    name: 'BackendKeyData with a 300-byte key',
    direction: 'backend',
    bytes: typed('K', 308, Buffer.concat([int32(1), Buffer.alloc(300)])),
    code: 'malformed',
    message: /secret key is 300 bytes/,
  },
];

function readerFor(input: BadInput): MessageReader {
  const reader = new MessageReader(input.direction, input.options);
  const phase = input.phase ?? 'typed';
  if (phase === 'typed' && input.direction === 'frontend') reader.expectTyped();
  if (phase === 'encryptionResponse') reader.expectEncryptionResponse();
  return reader;
}

describe('bad input is a ProtocolError a person can act on', () => {
  it.each(BAD_FRAMES)('framing: $name', (input) => {
    const reader = readerFor(input);
    const error = protocolErrorOf(() => reader.push(input.bytes));
    expect(error.code).toBe(input.code);
    expect(error.message).toMatch(input.message);
    // The stream position is lost for good: the same error, whatever comes next.
    expect(protocolErrorOf(() => reader.push(Buffer.from('Q')))).toBe(error);
    expect(protocolErrorOf(() => reader.expectTyped())).toBe(error);
    expect(reader.bufferedBytes).toBe(0);
  });

  it.each(BAD_FRAMES)('framing, byte by byte: $name', (input) => {
    const reader = readerFor(input);
    const error = protocolErrorOf(() => {
      for (let i = 0; i < input.bytes.length; i++) reader.push(input.bytes.subarray(i, i + 1));
    });
    expect(error.code).toBe(input.code);
  });

  it.each(BAD_MESSAGES)('decoding: $name', (input) => {
    const reader = readerFor(input);
    const frames = reader.push(input.bytes);
    expect(frames).toHaveLength(1);
    const error = protocolErrorOf(() => reader.decode(frames[0]!));
    expect(error.code).toBe(input.code);
    expect(error.message).toMatch(input.message);
  });

  it('accepts a message of exactly the configured limit', () => {
    const reader = new MessageReader('backend', { maxMessageBytes: 1024 });
    const row = encodeDataRow([Buffer.alloc(1024 - 11)]);
    expect(row.length).toBe(1024);
    expect(reader.push(row)).toHaveLength(1);
  });

  it('refuses a flood while held, instead of buffering without bound', () => {
    const reader = new MessageReader('frontend', { maxMessageBytes: 1024 });
    reader.push(startup({ user: 'u' }));
    expect(reader.isHeld).toBe(true);
    const error = protocolErrorOf(() => reader.push(Buffer.alloc(2000)));
    expect(error.code).toBe('message_too_large');
    expect(error.message).toMatch(
      /sent 2000 bytes before its startup packet was handled; at most 1 KiB/,
    );
  });

  it('maps protocol errors to the SQLSTATE PostgreSQL uses', () => {
    expect(new ProtocolError('malformed', 'x').sqlState).toBe('08P01');
    expect(new ProtocolError('unsupported_protocol', 'x').sqlState).toBe('0A000');
  });

  it('an unknown type also fails in the standalone decoders', () => {
    const frame = { type: '!', raw: Buffer.from('!\0\0\0\x04', 'latin1'), body: Buffer.alloc(0) };
    expect(protocolErrorOf(() => decodeFrontend(frame)).code).toBe('unknown_message');
    expect(protocolErrorOf(() => decodeBackend(frame)).code).toBe('unknown_message');
  });
});

describe('MessageReader options', () => {
  it('defaults: 64 MiB from clients, 1 GiB from servers, 10000-byte startup packets', () => {
    expect(new MessageReader('frontend').maxMessageBytes).toBe(DEFAULT_MAX_FRONTEND_MESSAGE_BYTES);
    expect(DEFAULT_MAX_FRONTEND_MESSAGE_BYTES).toBe(64 * 1024 * 1024);
    expect(new MessageReader('backend').maxMessageBytes).toBe(DEFAULT_MAX_BACKEND_MESSAGE_BYTES);
    expect(DEFAULT_MAX_BACKEND_MESSAGE_BYTES).toBe(1024 * 1024 * 1024);
    expect(new MessageReader('frontend').maxStartupBytes).toBe(10_000);
  });

  it('refuses limits no message could meet', () => {
    expect(() => new MessageReader('frontend', { maxMessageBytes: 4 })).toThrow(RangeError);
    expect(() => new MessageReader('frontend', { maxMessageBytes: 2 ** 32 })).toThrow(RangeError);
    expect(() => new MessageReader('frontend', { maxStartupBytes: 1.5 })).toThrow(RangeError);
  });
});
