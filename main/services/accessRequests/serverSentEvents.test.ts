import { describe, expect, it } from 'vitest';
import { ServerSentEventReader } from './serverSentEvents.ts';

describe('ServerSentEventReader', () => {
  it('skips comments and yields each event once its blank line arrives', () => {
    const reader = new ServerSentEventReader();
    expect(reader.push(': subscribed\n\n')).toEqual([]);
    expect(reader.push('data: {"a":1}\n')).toEqual([]);
    expect(reader.push('\n')).toEqual(['{"a":1}']);
  });

  it('reads events split at any byte, CRLF line ends and multi-line data', () => {
    const text = 'data: {"kind":"approved",\r\ndata: "x":"é"}\r\n\r\n: ping\n\ndata:2\n\n';
    const bytes = new TextEncoder().encode(text);
    for (let cut = 1; cut < bytes.length; cut++) {
      const reader = new ServerSentEventReader();
      const events = [...reader.push(bytes.subarray(0, cut)), ...reader.push(bytes.subarray(cut))];
      expect(events).toEqual(['{"kind":"approved",\n"x":"é"}', '2']);
    }
  });

  it('ignores fields other than data', () => {
    const reader = new ServerSentEventReader();
    expect(reader.push('event: x\nid: 7\nretry: 100\ndata: y\n\n')).toEqual(['y']);
  });
});
