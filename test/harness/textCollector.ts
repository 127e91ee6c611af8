/** A writable stream that keeps what is written as text: a CLI's stdout or stderr in a test. */
import { Writable } from 'node:stream';

export function collectText(): { stream: Writable; text(): string } {
  let text = '';
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      text += chunk.toString();
      callback();
    },
  });
  return { stream, text: () => text };
}
