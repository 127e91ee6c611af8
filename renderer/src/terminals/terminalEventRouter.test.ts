import { describe, expect, it } from 'vitest';
import { TerminalEventRouter, type TerminalSink } from './terminalEventRouter.ts';

function recordingSink() {
  const seen: string[] = [];
  const sink: TerminalSink = {
    data: (e) => seen.push(`data:${e.data}`),
    ended: (e) => seen.push(`ended:${e.reason.kind}`),
  };
  return { seen, sink };
}

describe('TerminalEventRouter', () => {
  it('delivers events to the attached sink only', () => {
    const router = new TerminalEventRouter();
    const a = recordingSink();
    const b = recordingSink();
    router.attach('t1', a.sink);
    router.attach('t2', b.sink);
    router.data({ terminalId: 't1', data: 'hello', bytes: 5 });
    router.ended({ terminalId: 't2', reason: { kind: 'closed' } });
    expect(a.seen).toEqual(['data:hello']);
    expect(b.seen).toEqual(['ended:closed']);
  });

  it('holds events that arrive before the open response, then hands them over in order', () => {
    const router = new TerminalEventRouter();
    router.data({ terminalId: 't1', data: '$ ', bytes: 2 });
    router.data({ terminalId: 't1', data: 'more', bytes: 4 });
    router.ended({ terminalId: 't1', reason: { kind: 'closed' } });
    const a = recordingSink();
    router.attach('t1', a.sink);
    expect(a.seen).toEqual(['data:$ ', 'data:more', 'ended:closed']);
    expect(router.heldCount()).toBe(0);
  });

  it('drops unclaimed events after the hold time', () => {
    let now = 0;
    const router = new TerminalEventRouter(() => now, 1000);
    router.data({ terminalId: 'gone', data: 'x', bytes: 1 });
    expect(router.heldCount()).toBe(1);
    now = 1001;
    expect(router.heldCount()).toBe(0);
  });

  it('stops delivering after detach', () => {
    const router = new TerminalEventRouter();
    const a = recordingSink();
    const detach = router.attach('t1', a.sink);
    detach();
    router.data({ terminalId: 't1', data: 'late', bytes: 4 });
    expect(a.seen).toEqual([]);
  });
});
