/**
 * A small, seeded fuzz loop: random and mutated byte streams through MessageReader and every
 * decoder. The only property checked is the codec's contract with a hostile peer — it throws
 * `ProtocolError` or nothing, never another error, and never loses or invents a byte. Each
 * loop is bounded by count and by time, so it stays cheap on a shared machine.
 */
import { describe, expect, it } from 'vitest';
import {
  type BackendMessage,
  decodeBackend,
  decodeFrontend,
  encodeBackend,
  encodeFrontend,
  type Frame,
  type FrontendMessage,
  MessageReader,
  ProtocolError,
  parsePasswordMessage,
  parseSASLInitialResponse,
} from './codec.ts';
import {
  ALL_BACKEND_SAMPLES,
  ALL_FRONTEND_SAMPLES,
  randomSplit,
  recordedStream,
  seededRandom,
} from './fixtures/sampleMessages.ts';

const TIME_BUDGET_MS = 1500;

function randomBytes(random: () => number, maxLength: number): Buffer {
  const out = Buffer.alloc(Math.floor(random() * (maxLength + 1)));
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(random() * 256);
  return out;
}

/** Flips, overwrites, deletes, duplicates or inserts a few bytes. */
function mutate(data: Buffer, random: () => number): Buffer {
  let out = Buffer.from(data);
  const edits = 1 + Math.floor(random() * 4);
  for (let e = 0; e < edits && out.length > 0; e++) {
    const at = Math.floor(random() * out.length);
    const span = 1 + Math.floor(random() * 8);
    switch (Math.floor(random() * 6)) {
      case 0:
        out[at] = out[at]! ^ (1 << Math.floor(random() * 8));
        break;
      case 1:
        out[at] = [0x00, 0xff, 0x7f, 0x80][Math.floor(random() * 4)]!;
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + span)]);
        break;
      case 3:
        out = Buffer.concat([out.subarray(0, at + span), out.subarray(at)]);
        break;
      case 4:
        out = Buffer.concat([out.subarray(0, at), randomBytes(random, 8), out.subarray(at)]);
        break;
      default:
        out = out.subarray(0, at);
    }
  }
  return out;
}

/** Only ProtocolError may escape; anything else fails the test with the input that caused it. */
function expectOnlyProtocolErrors(action: () => void, input: () => string): void {
  try {
    action();
  } catch (error) {
    if (!(error instanceof ProtocolError)) {
      throw new Error(`Non-protocol error ${String(error)} for input ${input()}`, { cause: error });
    }
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * What decodes must encode back to the same bytes. Strings are decoded as UTF-8, so a message
 * holding invalid UTF-8 anywhere (which includes most binary fields) is skipped.
 */
function expectRoundTrip(direction: 'frontend' | 'backend', frame: Frame, message: unknown): void {
  try {
    strictUtf8.decode(frame.raw);
  } catch {
    return;
  }
  const encoded =
    direction === 'frontend'
      ? encodeFrontend(message as FrontendMessage)
      : encodeBackend(message as BackendMessage);
  expect(encoded.equals(frame.raw), `round trip of ${frame.raw.toString('hex')}`).toBe(true);
}

/** Decodes, or returns undefined for a message refused with a ProtocolError. */
function tryDecode(reader: MessageReader, frame: Frame) {
  try {
    const message = reader.decode(frame);
    expectRoundTrip(reader.direction, frame, message);
    return message;
  } catch (error) {
    if (error instanceof ProtocolError) return undefined;
    throw new Error(`Non-protocol error ${String(error)} decoding ${frame.raw.toString('hex')}`, {
      cause: error,
    });
  }
}

/**
 * Drives a reader through a stream as a session would (a refused message does not stop the
 * stream; a refused startup packet does), checking that no byte is lost or invented.
 */
function drive(reader: MessageReader, chunks: Buffer[]): void {
  let pushed = 0;
  let framed = 0;
  const take = (frames: Frame[]) => {
    let last: ReturnType<typeof tryDecode>;
    for (const frame of frames) {
      framed += frame.raw.length;
      last = tryDecode(reader, frame);
      if (last?.type === 'AuthenticationResponse') {
        const message = last;
        const input = () => frame.raw.toString('hex');
        expectOnlyProtocolErrors(() => parseSASLInitialResponse(message), input);
        expectOnlyProtocolErrors(() => parsePasswordMessage(message), input);
      }
    }
    return last;
  };
  for (const chunk of chunks) {
    pushed += chunk.length;
    let last = take(reader.push(chunk));
    while (reader.isHeld) {
      if (last === undefined || last.type === 'CancelRequest') return;
      last =
        last.type === 'SSLRequest' || last.type === 'GSSENCRequest'
          ? take(reader.expectStartup())
          : take(reader.expectTyped());
    }
    expect(framed + reader.bufferedBytes).toBe(pushed);
  }
}

const STREAMS = {
  frontend: [
    recordedStream('psql', 'frontend'),
    recordedStream('node-postgres', 'frontend'),
    Buffer.concat(
      ALL_FRONTEND_SAMPLES.filter(
        (m) => !m.type.endsWith('Request') && m.type !== 'StartupMessage',
      ).map(encodeFrontend),
    ),
  ],
  backend: [
    recordedStream('psql', 'backend'),
    recordedStream('node-postgres', 'backend'),
    Buffer.concat(
      ALL_BACKEND_SAMPLES.filter((m) => m.type !== 'EncryptionResponse').map(encodeBackend),
    ),
  ],
};

function newReader(direction: 'frontend' | 'backend', variant: number): MessageReader {
  // Small limits half of the time, so random lengths also hit the size checks' edges.
  const reader = new MessageReader(direction, variant % 2 === 0 ? {} : { maxMessageBytes: 4096 });
  if (direction === 'frontend' && variant % 3 === 0) reader.expectTyped();
  if (direction === 'backend' && variant % 3 === 0) reader.expectEncryptionResponse();
  return reader;
}

describe('fuzz: only ProtocolError, never a crash, a hang or a lost byte', () => {
  it('random byte strings through MessageReader, both directions and phases', () => {
    const random = seededRandom(0xc0dec);
    const started = Date.now();
    for (let i = 0; i < 4000 && Date.now() - started < TIME_BUDGET_MS; i++) {
      const direction = i % 2 === 0 ? 'frontend' : 'backend';
      const input = randomBytes(random, i % 10 === 0 ? 512 : 48);
      const reader = newReader(direction, i);
      expectOnlyProtocolErrors(
        () => drive(reader, randomSplit(input, random, 16)),
        () => `${direction} #${i} ${input.toString('hex')}`,
      );
    }
  });

  it('mutated real sessions through MessageReader', () => {
    const random = seededRandom(0xbad5eed);
    const started = Date.now();
    for (let i = 0; i < 3000 && Date.now() - started < TIME_BUDGET_MS; i++) {
      const direction = i % 2 === 0 ? 'frontend' : 'backend';
      const streams = STREAMS[direction];
      const stream = streams[Math.floor(random() * streams.length)]!;
      const input = mutate(stream, random);
      const recorded = stream === streams[0] || stream === streams[1];
      // Recorded psql streams open with their startup phase; the synthetic ones are typed.
      const reader = new MessageReader(direction, i % 4 === 1 ? { maxMessageBytes: 4096 } : {});
      if (!recorded && direction === 'frontend') reader.expectTyped();
      if (stream === STREAMS.backend[0]) reader.expectEncryptionResponse();
      expectOnlyProtocolErrors(
        () => drive(reader, randomSplit(input, random, 256)),
        () => `${direction} #${i} ${input.toString('hex')}`,
      );
    }
  });

  it('every decoder, given random and mutated bodies for every type byte', () => {
    const random = seededRandom(0x5eed);
    const samples = [
      ...ALL_FRONTEND_SAMPLES.map((m) => ({
        direction: 'frontend' as const,
        bytes: encodeFrontend(m),
      })),
      ...ALL_BACKEND_SAMPLES.filter((m) => m.type !== 'EncryptionResponse').map((m) => ({
        direction: 'backend' as const,
        bytes: encodeBackend(m),
      })),
    ];
    const started = Date.now();
    for (let i = 0; i < 4000 && Date.now() - started < TIME_BUDGET_MS; i++) {
      const sample = samples[i % samples.length]!;
      const untyped = sample.bytes[0] === 0;
      const bodyStart = untyped ? 4 : 5;
      const body =
        i % 3 === 0 ? randomBytes(random, 40) : mutate(sample.bytes.subarray(bodyStart), random);
      const type = untyped ? 'startup' : String.fromCharCode(sample.bytes[0]!);
      const frame: Frame = { type, raw: body, body };
      const decode = sample.direction === 'frontend' ? decodeFrontend : decodeBackend;
      expectOnlyProtocolErrors(
        () => {
          const message = decode(frame);
          // raw must be the whole message for the comparison.
          const raw = Buffer.concat([sample.bytes.subarray(0, bodyStart), body]);
          raw.writeInt32BE(raw.length - bodyStart + 4, bodyStart - 4);
          expectRoundTrip(sample.direction, { type, raw, body }, message);
        },
        () => `${sample.direction} '${type}' ${body.toString('hex')}`,
      );
    }
  });
});
