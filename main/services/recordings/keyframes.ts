/**
 * Seeking in a terminal recording: keyframes are serialized terminal states (@xterm/headless +
 * addon-serialize) taken every KEYFRAME_BYTES of output or KEYFRAME_MS of time, built once per
 * recording in the background and cached next to the verified download. A seek restores the
 * nearest keyframe at or before the target into a fresh headless terminal, replays the events
 * between it and the target, and serializes the result — so its cost is bounded by the keyframe
 * spacing (≤ KEYFRAME_BYTES of parsing), not by how far into the recording the target is.
 */
import { promises as fs } from 'node:fs';
import type { EventTextReader } from './eventText.ts';
import { HeadlessTerminal } from './headlessTerminal.ts';
import {
  EV_INPUT,
  EV_OUTPUT,
  EV_RESIZE,
  EV_STDERR,
  type RecordingIndex,
} from './recordingIndex.ts';

/** Output between keyframes: ~20 ms of headless parsing at the ~30 MB/s measured here. */
export const KEYFRAME_BYTES = 512 * 1024;
export const KEYFRAME_MS = 30_000;
/** How much event data one replay step reads from the file (a seek, which is awaited). */
const REPLAY_BATCH_BYTES = 1024 * 1024;
/**
 * The background build's step: `stop()` (the playback closed) is seen only between steps, and
 * a step already handed to xterm is parsed to its end. 1 MiB steps went on parsing ~30-60 ms
 * after a close, delaying the next recording's open by as much; 64 KiB is ~2 ms.
 */
const BUILD_BATCH_BYTES = 128 * 1024;
const CACHE_VERSION = 1;

export interface Keyframe {
  /** Events [0, position) are in the snapshot. */
  position: number;
  /** Time of the last event in it. */
  t: number;
  cols: number;
  rows: number;
  snapshot: string;
}

export interface SeekResult {
  snapshot: string;
  atMs: number;
  size: { cols: number; rows: number };
  /** The first event not in the snapshot. */
  nextPosition: number;
}

export class Keyframes {
  private readonly planned: number[];
  private readonly built: Keyframe[] = [];
  private building: Promise<void> | null = null;
  /** Reading the cached keyframes: quick, so a seek waits for it rather than replaying from 0. */
  private loading: Promise<boolean> | null = null;
  private stopped = false;

  constructor(
    private readonly index: RecordingIndex,
    private readonly text: EventTextReader,
    /** Where to keep them between openings (null: memory only). */
    private readonly cachePath: string | null = null,
  ) {
    this.planned = planKeyframes(index);
  }

  /** The times of the planned keyframes (for the timeline), known before they are built. */
  times(): number[] {
    return this.planned.map((position) => this.index.events.t[position - 1] ?? 0);
  }

  /** Builds (or loads) the keyframes once; later calls return the same promise. */
  build(onProgress?: (done: number, total: number) => void): Promise<void> {
    if (!this.building) {
      this.loading = this.load();
      this.building = this.loading.then((loaded) =>
        loaded ? undefined : this.buildAll(onProgress),
      );
    }
    return this.building;
  }

  get ready(): number {
    return this.built.length;
  }

  stop(): void {
    this.stopped = true;
  }

  /** The screen after every event up to `atMs` — or, given `afterSeq`, up to that frame. */
  async seek(atMs: number, afterSeq?: number): Promise<SeekResult> {
    if (this.loading) await this.loading;
    const e = this.index.events;
    const target =
      afterSeq === undefined
        ? upperBound(e.t, atMs, e.count)
        : upperBound(e.seq, afterSeq, e.count);
    let keyframe: Keyframe | null = null;
    for (let i = this.built.length - 1; i >= 0; i--) {
      if (this.built[i]!.position <= target) {
        keyframe = this.built[i]!;
        break;
      }
    }
    const term = keyframe
      ? new HeadlessTerminal(keyframe.cols, keyframe.rows)
      : new HeadlessTerminal(this.index.size.cols, this.index.size.rows);
    try {
      if (keyframe) await term.write(keyframe.snapshot);
      await replay(term, this.index, this.text, keyframe?.position ?? 0, target, () => false);
      return {
        snapshot: term.serialize(),
        atMs,
        size: { cols: term.cols, rows: term.rows },
        nextPosition: target,
      };
    } finally {
      term.dispose();
    }
  }

  private async buildAll(onProgress?: (done: number, total: number) => void): Promise<void> {
    const term = new HeadlessTerminal(this.index.size.cols, this.index.size.rows);
    try {
      let from = 0;
      for (const position of this.planned) {
        const complete = await replay(
          term,
          this.index,
          this.text,
          from,
          position,
          () => this.stopped,
          BUILD_BATCH_BYTES,
        );
        if (!complete) return;
        from = position;
        this.built.push({
          position,
          t: this.index.events.t[position - 1] ?? 0,
          cols: term.cols,
          rows: term.rows,
          snapshot: term.serialize(),
        });
        onProgress?.(this.built.length, this.planned.length);
      }
    } finally {
      term.dispose();
    }
    await this.save();
  }

  private async load(): Promise<boolean> {
    if (!this.cachePath) return false;
    try {
      const saved = JSON.parse(await fs.readFile(this.cachePath, 'utf8')) as {
        version: number;
        frames: number;
        events: number;
        keyframes: Keyframe[];
      };
      if (
        saved.version !== CACHE_VERSION ||
        saved.frames !== this.index.frames ||
        saved.events !== this.index.events.count ||
        saved.keyframes.length !== this.planned.length
      ) {
        return false;
      }
      this.built.push(...saved.keyframes);
      return true;
    } catch {
      return false;
    }
  }

  private async save(): Promise<void> {
    if (!this.cachePath || this.stopped) return;
    const body = JSON.stringify({
      version: CACHE_VERSION,
      frames: this.index.frames,
      events: this.index.events.count,
      keyframes: this.built,
    });
    const temp = `${this.cachePath}.${process.pid}.tmp`;
    await fs.writeFile(temp, body);
    await fs.rename(temp, this.cachePath);
  }
}

/** Positions after which a keyframe is taken. */
export function planKeyframes(index: RecordingIndex): number[] {
  const e = index.events;
  const planned: number[] = [];
  let bytes = 0;
  let since = 0;
  for (let i = 0; i < e.count; i++) {
    if (e.kind[i] === EV_OUTPUT || e.kind[i] === EV_STDERR) bytes += e.length[i]!;
    if (bytes > 0 && (bytes >= KEYFRAME_BYTES || e.t[i]! - since >= KEYFRAME_MS)) {
      planned.push(i + 1);
      bytes = 0;
      since = e.t[i]!;
    }
  }
  return planned;
}

/**
 * Applies events [from, to) to `term`: output and stderr are written, resizes applied, input
 * and exits skipped (a terminal shows the echo, not the keys). False when `stop` said so.
 */
export async function replay(
  term: HeadlessTerminal,
  index: RecordingIndex,
  text: EventTextReader,
  from: number,
  to: number,
  stop: () => boolean,
  batchBytes = REPLAY_BATCH_BYTES,
): Promise<boolean> {
  const e = index.events;
  let at = from;
  // The step before this one, still being parsed while this one is read from the file: one
  // step queued behind another keeps xterm's write buffer from running dry (each time it does,
  // the next write waits for a timer), so small steps cost no more than large ones.
  let previous: Promise<void> = Promise.resolve();
  while (at < to) {
    if (stop()) {
      await previous;
      return false;
    }
    let end = at;
    let bytes = 0;
    while (end < to && (bytes < batchBytes || end === at)) {
      bytes += e.length[end]!;
      end++;
    }
    const texts = await text.texts(at, end);
    let pending = '';
    for (let i = at; i < end; i++) {
      const kind = e.kind[i];
      if (kind === EV_OUTPUT || kind === EV_STDERR) {
        pending += texts[i - at];
      } else if (kind === EV_RESIZE) {
        // A resize applies at once, not in write order: everything before it must be parsed.
        await previous;
        previous = Promise.resolve();
        if (pending) await term.write(pending);
        pending = '';
        term.resize(e.cols[i]!, e.rows[i]!);
      } else if (kind === EV_INPUT) {
        // not shown
      }
    }
    const written = pending ? term.write(pending) : Promise.resolve();
    await previous;
    previous = written;
    at = end;
  }
  await previous;
  return true;
}

/**
 * First position whose value is > t in a never-decreasing list (times: events [0, result)
 * happened at or before t; seqs: events [0, result) are of frames up to seq t).
 */
export function upperBound(times: number[], t: number, count: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First position whose time is ≥ t. */
export function lowerBound(times: number[], t: number, count: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
