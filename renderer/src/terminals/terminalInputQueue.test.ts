import { describe, expect, it } from 'vitest';
import { TerminalInputQueue } from './terminalInputQueue.ts';

/** A send whose calls resolve only when the test says so, to observe what is in flight. */
function controlledSend() {
  const sent: string[] = [];
  const waiting: (() => void)[] = [];
  const send = (data: string) =>
    new Promise<void>((resolve) => {
      sent.push(data);
      waiting.push(resolve);
    });
  const settleNext = async () => {
    waiting.shift()?.();
    await new Promise((r) => setTimeout(r, 0));
  };
  return { sent, send, settleNext, inFlight: () => waiting.length };
}

describe('TerminalInputQueue', () => {
  it('keeps one write in flight and coalesces input typed meanwhile, in order', async () => {
    const s = controlledSend();
    const queue = new TerminalInputQueue(s.send, () => {});
    queue.push('e');
    queue.push('c');
    queue.push('h');
    queue.push('o');
    expect(s.sent).toEqual(['e']);
    expect(s.inFlight()).toBe(1);
    await s.settleNext();
    expect(s.sent).toEqual(['e', 'cho']);
    await s.settleNext();
    expect(s.inFlight()).toBe(0);
    queue.push('\r');
    expect(s.sent).toEqual(['e', 'cho', '\r']);
  });

  it('splits a large paste into writes within the limit', async () => {
    const s = controlledSend();
    const queue = new TerminalInputQueue(s.send, () => {}, 4);
    queue.push('abcdefghij');
    await s.settleNext();
    await s.settleNext();
    await s.settleNext();
    expect(s.sent).toEqual(['abcd', 'efgh', 'ij']);
  });

  it('reports a failed write once and drops what was pending', async () => {
    const errors: unknown[] = [];
    const sent: string[] = [];
    const queue = new TerminalInputQueue(
      async (data) => {
        sent.push(data);
        throw new Error('terminal_not_found');
      },
      (e) => errors.push(e),
    );
    queue.push('a');
    queue.push('b');
    await new Promise((r) => setTimeout(r, 0));
    expect(sent).toEqual(['a']);
    expect(errors).toHaveLength(1);
  });

  it('ignores input after stop', async () => {
    const s = controlledSend();
    const queue = new TerminalInputQueue(s.send, () => {});
    queue.push('a');
    queue.push('b');
    queue.stop();
    await s.settleNext();
    queue.push('c');
    expect(s.sent).toEqual(['a']);
  });
});
