/**
 * Reads a `text/event-stream` body incrementally (the WHATWG "server-sent events" format as
 * the gateway writes it for `GET /v1/access-requests/events`): `data:` lines accumulate until a
 * blank line ends the event; lines starting with `:` are comments (the gateway's keep-alive
 * and its `: subscribed` greeting). No I/O here, so a test feeds it bytes split anywhere.
 */
export class ServerSentEventReader {
  private pending = '';
  private data: string[] = [];
  private readonly decoder = new TextDecoder();

  /** Feeds a chunk; returns the data of every event it completed, in order. */
  push(chunk: Uint8Array | string): string[] {
    this.pending +=
      typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const events: string[] = [];
    let newline = this.pending.search(/\r?\n|\r/);
    // A CR at the very end may be the first half of a CRLF: wait for the next chunk.
    while (newline >= 0 && !(newline === this.pending.length - 1 && this.pending.endsWith('\r'))) {
      const line = this.pending.slice(0, newline);
      const breakLength = this.pending.startsWith('\r\n', newline) ? 2 : 1;
      this.pending = this.pending.slice(newline + breakLength);
      this.takeLine(line, events);
      newline = this.pending.search(/\r?\n|\r/);
    }
    return events;
  }

  private takeLine(line: string, events: string[]): void {
    if (line === '') {
      if (this.data.length > 0) events.push(this.data.join('\n'));
      this.data = [];
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    // One optional space after the colon belongs to the syntax, not the value.
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') this.data.push(value);
  }
}
