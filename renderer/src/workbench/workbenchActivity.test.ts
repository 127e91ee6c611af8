import { describe, expect, it } from 'vitest';
import { countLabel, NO_ACTIVITY, WorkbenchActivityStore } from './workbenchActivity.ts';

describe('WorkbenchActivityStore', () => {
  it('sums what each reporter says, per kind', () => {
    const store = new WorkbenchActivityStore();
    store.report('terminals', 'workspace', 2);
    store.report('consoles', 'console-a', 1);
    store.report('consoles', 'console-b', 1);
    store.report('tunnels', 'tunnels', 3);
    expect(store.current()).toEqual({ terminals: 2, consoles: 2, tunnels: 3 });
  });

  it('a reporter that changes its count replaces it; one that goes away withdraws it', () => {
    const store = new WorkbenchActivityStore();
    store.report('consoles', 'a', 2);
    store.report('consoles', 'a', 1);
    store.report('consoles', 'b', 4);
    store.withdraw('b');
    expect(store.current()).toEqual({ ...NO_ACTIVITY, consoles: 1 });
  });

  it('tells listeners only when something changed, with a new snapshot each time', () => {
    const store = new WorkbenchActivityStore();
    let calls = 0;
    const off = store.subscribe(() => {
      calls += 1;
    });
    const before = store.current();
    store.report('terminals', 'w', 1);
    store.report('terminals', 'w', 1);
    store.withdraw('nobody');
    expect(calls).toBe(1);
    expect(store.current()).not.toBe(before);
    const same = store.current();
    expect(store.current()).toBe(same);
    off();
    store.report('terminals', 'w', 2);
    expect(calls).toBe(1);
  });

  it('never goes below zero', () => {
    const store = new WorkbenchActivityStore();
    store.report('tunnels', 't', -3);
    expect(store.current().tunnels).toBe(0);
  });
});

describe('countLabel', () => {
  it.each([
    [0, 'terminals', 'No terminals'],
    [1, 'terminals', '1 terminal'],
    [2, 'consoles', '2 consoles'],
    [1, 'tunnels', '1 tunnel'],
  ] as const)('%i %s → %s', (count, kind, label) => {
    expect(countLabel(count, kind)).toBe(label);
  });
});
