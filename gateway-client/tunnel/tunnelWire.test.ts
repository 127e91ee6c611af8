import { describe, expect, it } from 'vitest';
import {
  BackendFrameReader,
  encodeCancelRequest,
  encodeFatalError,
  encodeSslRequest,
  encodeStartupMessage,
  MAX_STARTUP_PACKET_BYTES,
  parseAuthentication,
  parseErrorFields,
  readStartupPacket,
  TunnelWireError,
} from './tunnelWire.ts';

describe('tunnel wire: startup packets', () => {
  it('reads a StartupMessage split anywhere, keeping the bytes after it', () => {
    const startup = encodeStartupMessage(
      new Map([
        ['user', 'someone'],
        ['database', 'orders'],
        ['application_name', 'psql'],
      ]),
    );
    const stream = Buffer.concat([encodeSslRequest(), startup, Buffer.from('Q')]);
    const ssl = readStartupPacket(stream);
    expect(ssl?.packet).toEqual({ kind: 'ssl' });
    for (let cut = 0; cut < startup.length; cut++) {
      expect(readStartupPacket(ssl!.rest.subarray(0, cut))).toBeUndefined();
    }
    const read = readStartupPacket(ssl!.rest);
    expect(read?.packet).toEqual({
      kind: 'startup',
      major: 3,
      minor: 0,
      parameters: new Map([
        ['user', 'someone'],
        ['database', 'orders'],
        ['application_name', 'psql'],
      ]),
    });
    expect(read?.rest.toString()).toBe('Q');
  });

  it('reads a CancelRequest', () => {
    const read = readStartupPacket(encodeCancelRequest(1234, Buffer.from([1, 2, 3, 4])));
    expect(read?.packet).toEqual({
      kind: 'cancel',
      processId: 1234,
      secretKey: Buffer.from([1, 2, 3, 4]),
    });
  });

  it('refuses what is not a PostgreSQL startup: HTTP, oversized, protocol 2, bad parameters', () => {
    expect(() => readStartupPacket(Buffer.from('GET / HTTP/1.1\r\n'))).toThrow(
      /Invalid startup packet length/,
    );
    const huge = Buffer.alloc(8);
    huge.writeInt32BE(MAX_STARTUP_PACKET_BYTES + 1, 0);
    expect(() => readStartupPacket(huge)).toThrow(TunnelWireError);
    const v2 = Buffer.alloc(8);
    v2.writeInt32BE(8, 0);
    v2.writeInt32BE(2 << 16, 4);
    expect(() => readStartupPacket(v2)).toThrow(/Protocol version 2.0/);
    const unterminated = Buffer.concat([Buffer.alloc(8), Buffer.from('user\0x')]);
    unterminated.writeInt32BE(unterminated.length, 0);
    unterminated.writeInt32BE(196608, 4);
    expect(() => readStartupPacket(unterminated)).toThrow(/unterminated value/);
  });
});

describe('tunnel wire: backend messages', () => {
  it('splits messages across chunks and hands over the rest', () => {
    const reader = new BackendFrameReader();
    const ok = Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]); // AuthenticationOk
    const both = Buffer.concat([ok, Buffer.from('Z\0\0\0\x05I'), Buffer.from('T')]);
    reader.push(both.subarray(0, 3));
    expect(reader.take()).toBeUndefined();
    reader.push(both.subarray(3));
    const first = reader.take()!;
    expect(first.type).toBe('R');
    expect(parseAuthentication(first.body)).toEqual({ code: 0, kind: 'ok' });
    expect(reader.take()?.type).toBe('Z');
    expect(reader.take()).toBeUndefined();
    expect(reader.rest().toString()).toBe('T');
  });

  it('refuses a message larger than a login needs', () => {
    const reader = new BackendFrameReader(1024);
    reader.push(Buffer.from([0x52, 0, 1, 0, 0]));
    expect(() => reader.take()).toThrow(/not a Witness PostgreSQL listener/);
  });

  it('encodes a FATAL ErrorResponse that parses back, with no NUL smuggled into a field', () => {
    const error = encodeFatalError('28000', 'no grant\0Mfake', 'ask an admin');
    expect(error.subarray(0, 1).toString()).toBe('E');
    expect(error.readInt32BE(1)).toBe(error.length - 1);
    const fields = parseErrorFields(error.subarray(5));
    expect(Object.fromEntries(fields)).toEqual({
      S: 'FATAL',
      V: 'FATAL',
      C: '28000',
      M: 'no grantMfake',
      H: 'ask an admin',
    });
  });
});
