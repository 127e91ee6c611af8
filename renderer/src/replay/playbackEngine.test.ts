import { describe, expect, it } from 'vitest';
import { type EngineEvent, type FramesPage, PlaybackEngine } from './playbackEngine.ts';

/**
 * A recording served the way main serves it: `frames` by time window with a size cap and
 * `nextFromSeq`, `seek` as the output up to a time (what a keyframe + replay amounts to).
 */
function recording(events: EngineEvent[], capChars = 40) {
  const calls: { fromMs: number; toMs: number; fromSeq?: number }[] = [];
  return {
    calls,
    async fetchFrames(request: {
      fromMs: number;
      toMs: number;
      fromSeq?: number;
    }): Promise<FramesPage> {
      calls.push(request);
      const picked: EngineEvent[] = [];
      let chars = 0;
      for (const e of events) {
        if (request.fromSeq !== undefined ? e.seq < request.fromSeq : e.t < request.fromMs)
          continue;
        if (e.t >= request.toMs) break;
        if (picked.length > 0 && chars + e.data.length > capChars) {
          return { events: picked, nextFromSeq: e.seq };
        }
        picked.push(e);
        chars += e.data.length;
      }
      return { events: picked, nextFromSeq: null };
    },
    async seek(atMs: number, afterSeq?: number) {
      const shown = (e: EngineEvent) => (afterSeq === undefined ? e.t <= atMs : e.seq <= afterSeq);
      const before = events.filter(shown);
      const next = events.find((e) => !shown(e));
      return {
        snapshot: before
          .filter((e) => e.kind === 'output')
          .map((e) => e.data)
          .join(''),
        atMs,
        size: { cols: 80, rows: 24 },
        nextSeq: next?.seq ?? events.length,
      };
    },
  };
}

function harness(events: EngineEvent[], durationMs: number, capChars?: number) {
  const server = recording(events, capChars);
  let clock = 0;
  let screen = '';
  const inputs: string[] = [];
  const resizes: { cols: number; rows: number }[] = [];
  const pending = new Map<number, () => void>();
  let handle = 0;
  const engine = new PlaybackEngine({
    durationMs,
    initialSize: { cols: 80, rows: 24 },
    fetchFrames: (r) => server.fetchFrames(r),
    seek: (at, afterSeq) => server.seek(at, afterSeq),
    sink: {
      reset: (snapshot) => {
        screen = snapshot;
      },
      write: (data) => {
        screen += data;
      },
      resize: (size) => resizes.push(size),
      input: (data) => inputs.push(data),
    },
    onChange: () => {},
    now: () => clock,
    requestFrame: (cb) => {
      handle += 1;
      pending.set(handle, cb);
      return handle;
    },
    cancelFrame: (h) => pending.delete(h),
    windowMs: 1000,
    maxIdleMs: 500,
  });
  /** Advance the wall clock by `ms` in 16 ms frames, letting fetches resolve between frames. */
  async function run(ms: number) {
    for (let elapsed = 0; elapsed < ms; elapsed += 16) {
      clock += 16;
      const callbacks = [...pending.values()];
      pending.clear();
      for (const cb of callbacks) cb();
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
  return { engine, server, run, screen: () => screen, inputs, resizes };
}

function outputs(n: number, stepMs: number, startMs = 0): EngineEvent[] {
  return Array.from({ length: n }, (_, i) => ({
    seq: i,
    t: startMs + i * stepMs,
    kind: 'output' as const,
    data: `line ${i}\r\n`,
  }));
}

const all = (events: EngineEvent[]) =>
  events
    .filter((e) => e.kind === 'output')
    .map((e) => e.data)
    .join('');

describe('PlaybackEngine', () => {
  it('plays every event in order, across windows and cut-short pages', async () => {
    const events = outputs(60, 100);
    const h = harness(events, 5900);
    await h.engine.load();
    expect(h.screen()).toBe('line 0\r\n');
    h.engine.setSpeed(4);
    h.engine.play();
    await h.run(3000);
    expect(h.engine.current.ended).toBe(true);
    expect(h.engine.current.playing).toBe(false);
    expect(h.screen()).toBe(all(events));
    // The cap made main cut pages short; the engine went on with fromSeq.
    expect(h.server.calls.some((c) => c.fromSeq !== undefined)).toBe(true);
  });

  it('does not run ahead of the clock: half way through, half the output', async () => {
    const events = outputs(100, 100);
    const h = harness(events, 9900);
    await h.engine.load();
    h.engine.setIdleSkip(false);
    h.engine.play();
    await h.run(5000);
    const shown = h.screen().split('\r\n').length - 1;
    expect(shown).toBeGreaterThan(40);
    expect(shown).toBeLessThan(60);
  });

  it('idle-skip plays a long pause as a short one; without it the pause is real time', async () => {
    const events: EngineEvent[] = [
      { seq: 0, t: 0, kind: 'output', data: 'before\r\n' },
      { seq: 1, t: 60_000, kind: 'output', data: 'after\r\n' },
    ];
    const skipping = harness(events, 60_000);
    await skipping.engine.load();
    skipping.engine.play();
    await skipping.run(1500);
    expect(skipping.screen()).toBe('before\r\nafter\r\n');

    const realTime = harness(events, 60_000);
    await realTime.engine.load();
    realTime.engine.setIdleSkip(false);
    realTime.engine.play();
    await realTime.run(1500);
    expect(realTime.screen()).toBe('before\r\n');
    // An hour of silence costs a few growing windows, not one call per second.
    expect(skipping.server.calls.length).toBeLessThan(12);
  });

  it('seek shows the snapshot at that time and continues from the next event', async () => {
    const events = outputs(50, 100);
    const h = harness(events, 4900);
    await h.engine.load();
    await h.engine.seek(2550);
    expect(h.screen()).toBe(all(events.filter((e) => e.t <= 2550)));
    expect(h.engine.current.playheadMs).toBe(2550);
    h.engine.setSpeed(16);
    h.engine.play();
    await h.run(1000);
    expect(h.screen()).toBe(all(events));
  });

  it('a seek to a hit shows the screen just after its frame; output of the same ms waits for play', async () => {
    // A command typed at 1000 ms whose output came back within the same millisecond.
    const events: EngineEvent[] = [
      { seq: 0, t: 0, kind: 'output', data: '$ ' },
      { seq: 1, t: 1000, kind: 'output', data: 'ls\r\n' },
      { seq: 2, t: 1000, kind: 'output', data: 'README.md\r\n' },
      { seq: 3, t: 1500, kind: 'output', data: '$ ' },
    ];
    const h = harness(events, 2000);
    await h.engine.seek(1000, 1);
    expect(h.screen()).toBe('$ ls\r\n');
    expect(h.engine.current.playheadMs).toBe(1000);
    h.engine.play();
    await h.run(1200);
    expect(h.screen()).toBe(all(events));
  });

  it('a seek made while an older one is pending wins; the older answer is dropped', async () => {
    const events = outputs(50, 100);
    const h = harness(events, 4900);
    await h.engine.load();
    const first = h.engine.seek(1000);
    const second = h.engine.seek(3000);
    await Promise.all([first, second]);
    expect(h.engine.current.playheadMs).toBe(3000);
    expect(h.screen()).toBe(all(events.filter((e) => e.t <= 3000)));
  });

  it('hands resizes and (when asked for) keystrokes to the sink in order', async () => {
    const events: EngineEvent[] = [
      { seq: 0, t: 0, kind: 'output', data: '$ ' },
      { seq: 1, t: 100, kind: 'input', data: 'l' },
      { seq: 2, t: 150, kind: 'output', data: 'l' },
      { seq: 3, t: 200, kind: 'resize', data: '', size: { cols: 120, rows: 40 } },
      { seq: 4, t: 300, kind: 'exit', data: '' },
    ];
    const h = harness(events, 300);
    await h.engine.load();
    h.engine.play();
    await h.run(600);
    expect(h.screen()).toBe('$ l');
    expect(h.inputs).toEqual(['l']);
    expect(h.resizes).toEqual([{ cols: 120, rows: 40 }]);
    expect(h.engine.current.ended).toBe(true);
  });

  it('a recording found longer than at open plays and seeks to its new end', async () => {
    const events = outputs(40, 100);
    // Opened knowing only the first second (a progressive open before the seek table came).
    const h = harness(events, 900);
    await h.engine.load();
    await h.engine.seek(3500);
    expect(h.engine.current.playheadMs).toBe(900);
    h.engine.setDuration(3900);
    h.engine.setDuration(1000); // never shrinks
    await h.engine.seek(3500);
    expect(h.engine.current.playheadMs).toBe(3500);
    expect(h.screen()).toContain('line 35\r\n');
    h.engine.setSpeed(16);
    h.engine.play();
    await h.run(1000);
    expect(h.engine.current.ended).toBe(true);
    expect(h.screen().endsWith('line 39\r\n')).toBe(true);
  });

  it('play at the end starts over', async () => {
    const events = outputs(3, 100);
    const h = harness(events, 200);
    await h.engine.load();
    h.engine.play();
    await h.run(400);
    expect(h.engine.current.ended).toBe(true);
    h.engine.play();
    await h.run(32);
    expect(h.engine.current.playing).toBe(true);
    expect(h.screen().startsWith('line 0')).toBe(true);
  });

  it('opens on the first output, not on the blank moment before it', async () => {
    const events: EngineEvent[] = [
      { seq: 0, t: 0, kind: 'resize', data: '', size: { cols: 100, rows: 30 } },
      { seq: 1, t: 700, kind: 'output', data: '$ ' },
      { seq: 2, t: 900, kind: 'output', data: 'ls\r\n' },
    ];
    const h = harness(events, 900);
    await h.engine.load();
    expect(h.screen()).toBe('$ ');
    expect(h.engine.current.playheadMs).toBe(700);
    expect(h.resizes).toEqual([{ cols: 100, rows: 30 }]);
  });

  it('opens on the first output even when it comes windows after the opening resize', async () => {
    const events: EngineEvent[] = [
      { seq: 0, t: 0, kind: 'resize', data: '', size: { cols: 100, rows: 30 } },
      { seq: 1, t: 3500, kind: 'output', data: '$ ' },
      { seq: 2, t: 4000, kind: 'output', data: 'ls\r\n' },
    ];
    const h = harness(events, 4000);
    await h.engine.load();
    expect(h.screen()).toBe('$ ');
    expect(h.engine.current.playheadMs).toBe(3500);
  });

  it('opens where text appears, not on the mode switches a shell writes before its prompt', async () => {
    const events: EngineEvent[] = [
      { seq: 0, t: 0, kind: 'resize', data: '', size: { cols: 100, rows: 30 } },
      { seq: 1, t: 300, kind: 'output', data: '\x1b[?2004h\x1b]0;root@host\x07\x1b[' },
      { seq: 2, t: 2500, kind: 'output', data: '01;32mroot@host# ' },
      { seq: 3, t: 4000, kind: 'output', data: 'ls\r\n' },
    ];
    const h = harness(events, 4000);
    await h.engine.load();
    expect(h.engine.current.playheadMs).toBe(2500);
    expect(h.screen()).toContain('root@host# ');
    expect(h.screen()).not.toContain('ls');
  });

  it('a recording with no readable output opens on its first output', async () => {
    const events: EngineEvent[] = [
      { seq: 0, t: 0, kind: 'resize', data: '', size: { cols: 100, rows: 30 } },
      { seq: 1, t: 200, kind: 'output', data: '\x1b[?2004h' },
      { seq: 2, t: 400, kind: 'output', data: '\x1b[?2004l' },
    ];
    const h = harness(events, 400);
    await h.engine.load();
    expect(h.engine.current.playheadMs).toBe(200);
  });

  it('a failed fetch stops playback with the message', async () => {
    const h = harness(outputs(3, 100), 200);
    const engine = new PlaybackEngine({
      durationMs: 200,
      initialSize: { cols: 80, rows: 24 },
      fetchFrames: () => Promise.reject({ code: 'gateway_error', message: 'Gateway went away.' }),
      seek: (at) => h.server.seek(at),
      sink: { reset() {}, write() {}, resize() {}, input() {} },
      onChange() {},
      now: () => 0,
      requestFrame: () => 1,
      cancelFrame() {},
    });
    await engine.load();
    expect(engine.current.error).toBe('Gateway went away.');
    expect(engine.current.playing).toBe(false);
  });
});
