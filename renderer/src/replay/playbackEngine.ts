/**
 * The terminal player's clock and buffer, without DOM or xterm (tested in Node): it asks main
 * for events a time window at a time (`playback.frames`), moves the playhead with the wall
 * clock × speed (idle-skip shortens long pauses), and hands the events the playhead passed to
 * a sink (the xterm screen) in recorded order. Seeking asks main for the terminal as it looked
 * at that time (`playback.seek`: nearest keyframe replayed up to it), resets the screen to that
 * snapshot and carries on from the event after it.
 *
 * Fetching stays ahead of the playhead by at least half a window; a window with no events at
 * all is followed at once by one twice as long, so an hour of idle costs a few calls, not
 * hundreds. Every fetch carries the generation it was made in: a seek bumps the generation, so
 * an answer for the old position is dropped instead of written into the new one.
 */
import { advancePlayhead } from './idleSkip.ts';
import { hasVisibleText } from './visibleText.ts';

export interface EngineEvent {
  seq: number;
  t: number;
  kind: 'output' | 'input' | 'resize' | 'exit';
  data: string;
  size?: { cols: number; rows: number } | undefined;
}

export interface FramesPage {
  events: EngineEvent[];
  nextFromSeq: number | null;
}

export interface EngineSink {
  /** Clear the screen and show `snapshot` (serialized terminal state) at `size`. */
  reset(snapshot: string, size: { cols: number; rows: number }): void;
  /** Recorded output, in order (consecutive chunks joined). */
  write(data: string): void;
  resize(size: { cols: number; rows: number }): void;
  /** Recorded keystrokes (only asked for when the keystroke display is on). */
  input(data: string): void;
}

export interface EngineState {
  playing: boolean;
  playheadMs: number;
  speed: number;
  idleSkip: boolean;
  /** The playhead waits for events main has not sent yet. */
  buffering: boolean;
  ended: boolean;
  error: string | null;
}

export interface PlaybackEngineOptions {
  durationMs: number;
  initialSize: { cols: number; rows: number };
  fetchFrames(request: { fromMs: number; toMs: number; fromSeq?: number }): Promise<FramesPage>;
  seek(
    atMs: number,
    afterSeq?: number,
  ): Promise<{
    snapshot: string;
    atMs: number;
    size: { cols: number; rows: number };
    nextSeq: number;
  }>;
  sink: EngineSink;
  onChange(state: EngineState): void;
  now(): number;
  /** requestAnimationFrame in the page; a manual pump in tests. */
  requestFrame(callback: () => void): number;
  cancelFrame(handle: number): void;
  /** Width of a fetch window (recording time). */
  windowMs?: number;
  /** Idle-skip shortens pauses longer than this to this. */
  maxIdleMs?: number;
}

const DEFAULT_WINDOW_MS = 15_000;
const DEFAULT_MAX_IDLE_MS = 1_500;

export class PlaybackEngine {
  private options: PlaybackEngineOptions;
  private readonly windowMs: number;
  private readonly maxIdleMs: number;
  private events: EngineEvent[] = [];
  /** Index in `events` of the next event to hand to the sink. */
  private next = 0;
  /**
   * After a seek to a hit: events at this time (those after the hit's frame in its
   * millisecond) wait until the playhead moves past it.
   */
  private holdAt: number | null = null;
  /** Everything before this time has been fetched (or is in the seek snapshot). */
  private horizonMs = 0;
  /** Where the next fetch starts. */
  private cursor: { fromMs: number; toMs: number; fromSeq?: number } = { fromMs: 0, toMs: 0 };
  private fetching = false;
  private generation = 0;
  private frameHandle: number | null = null;
  private lastTick = 0;
  private disposed = false;
  private state: EngineState = {
    playing: false,
    playheadMs: 0,
    speed: 1,
    idleSkip: true,
    buffering: false,
    ended: false,
    error: null,
  };

  constructor(options: PlaybackEngineOptions) {
    this.options = options;
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.maxIdleMs = options.maxIdleMs ?? DEFAULT_MAX_IDLE_MS;
  }

  get current(): EngineState {
    return this.state;
  }

  /**
   * Start at the beginning, showing the first output at once: an empty screen at the first size,
   * the first window fetched, the playhead at the first output event (a recording usually opens
   * with a moment of nothing — session setup — and a blank player looks broken).
   */
  async load(): Promise<void> {
    this.generation += 1;
    this.holdAt = null;
    const generation = this.generation;
    this.options.sink.reset('', this.options.initialSize);
    this.events = [];
    this.next = 0;
    this.horizonMs = 0;
    this.fetching = false;
    this.cursor = { fromMs: 0, toMs: Math.min(this.windowMs, this.end()) };
    this.update({ playheadMs: 0, ended: false, error: null });
    await this.fill(generation);
    if (generation !== this.generation) return;
    let opening = this.firstVisibleOutput();
    // The first window may hold only the opening resize (a prompt that took longer than a window
    // to appear) or only invisible output (mode switches written before the prompt). Fetch on
    // until there is something to show, or the recording ends.
    while (opening === undefined && this.horizonMs < this.end()) {
      const horizonBefore = this.horizonMs;
      this.update({ playheadMs: this.horizonMs });
      await this.fill(generation);
      if (generation !== this.generation) return;
      if (this.horizonMs <= horizonBefore) break; // another fetch is in flight: it will catch up
      opening = this.firstVisibleOutput();
    }
    opening ??= this.events.find((e) => e.kind === 'output');
    this.update({ playheadMs: opening?.t ?? 0 });
    this.drain();
  }

  play(): void {
    if (this.disposed || this.state.playing) return;
    if (this.state.ended || this.state.playheadMs >= this.options.durationMs) {
      // Play at the end starts over.
      void this.seek(0).then(() => this.play());
      return;
    }
    this.lastTick = this.options.now();
    this.update({ playing: true });
    this.schedule();
  }

  pause(): void {
    if (this.frameHandle !== null) this.options.cancelFrame(this.frameHandle);
    this.frameHandle = null;
    this.update({ playing: false });
  }

  setSpeed(speed: number): void {
    this.update({ speed });
  }

  setIdleSkip(idleSkip: boolean): void {
    this.update({ idleSkip });
  }

  /**
   * The recording is longer than known at open (issue #16: a progressive open learns the whole
   * length from the seek table or the finished download): seeks and playback reach the new end.
   * Never shrinks — what was shown stays within the recording.
   */
  setDuration(durationMs: number): void {
    if (this.disposed || durationMs <= this.options.durationMs) return;
    this.options = { ...this.options, durationMs };
    if (this.state.ended) this.update({ ended: false });
  }

  /**
   * Show the terminal at `atMs`; keeps playing if it was. With `afterSeq` (a search hit at
   * `atMs`), show it just after that frame: frames of the same millisecond after it are left
   * for playback, so a command's hit shows the command line, not yet its output.
   */
  async seek(atMs: number, afterSeq?: number): Promise<void> {
    const target = Math.max(0, Math.min(this.options.durationMs, atMs));
    this.generation += 1;
    this.holdAt = null;
    const generation = this.generation;
    const wasPlaying = this.state.playing;
    if (wasPlaying) this.pause();
    this.update({ playheadMs: target, ended: false, buffering: true, error: null });
    let answer: Awaited<ReturnType<PlaybackEngineOptions['seek']>>;
    try {
      answer = await this.options.seek(target, afterSeq);
    } catch (error) {
      if (generation === this.generation) this.fail(error);
      return;
    }
    if (generation !== this.generation || this.disposed) return;
    this.options.sink.reset(answer.snapshot, answer.size);
    this.events = [];
    this.next = 0;
    this.horizonMs = answer.atMs;
    this.cursor = {
      fromMs: answer.atMs,
      toMs: Math.min(answer.atMs + this.windowMs, this.end()),
      fromSeq: answer.nextSeq,
    };
    this.fetching = false;
    this.holdAt = afterSeq === undefined ? null : answer.atMs;
    this.update({ playheadMs: answer.atMs, buffering: false });
    await this.fill(generation);
    if (generation !== this.generation) return;
    if (wasPlaying) this.play();
  }

  dispose(): void {
    this.disposed = true;
    this.generation += 1;
    this.pause();
  }

  /** Runs one clock step; the page calls it from requestAnimationFrame (tests call it directly). */
  tick(): void {
    this.frameHandle = null;
    if (!this.state.playing || this.disposed) return;
    const now = this.options.now();
    const wallMs = now - this.lastTick;
    this.lastTick = now;
    const nextEvent = this.events[this.next];
    const allFetched = this.horizonMs >= this.end();
    // Not fetched yet: nothing happens before the horizon, so that is the soonest next event.
    const nextEventMs = nextEvent?.t ?? (allFetched ? null : this.horizonMs);
    let playheadMs = advancePlayhead({
      playheadMs: this.state.playheadMs,
      wallMs,
      speed: this.state.speed,
      nextEventMs,
      durationMs: this.options.durationMs,
      maxIdleMs: this.state.idleSkip ? this.maxIdleMs : null,
    });
    if (!allFetched) playheadMs = Math.min(playheadMs, this.horizonMs);
    const buffering = !allFetched && playheadMs >= this.horizonMs;
    this.update({ playheadMs, buffering });
    this.drain();
    if (playheadMs >= this.options.durationMs && this.next >= this.events.length && allFetched) {
      this.pause();
      this.update({ ended: true });
      return;
    }
    if (this.horizonMs - playheadMs < this.windowMs / 2 || this.next >= this.events.length) {
      void this.fill(this.generation);
    }
    this.schedule();
  }

  private schedule(): void {
    if (this.frameHandle === null && this.state.playing) {
      this.frameHandle = this.options.requestFrame(() => this.tick());
    }
  }

  /** Hands every event at or before the playhead to the sink (outputs joined into one write). */
  private drain(): void {
    const { sink } = this.options;
    const at = this.state.playheadMs;
    if (this.holdAt !== null && at > this.holdAt) this.holdAt = null;
    const holdFrom = this.holdAt ?? Number.POSITIVE_INFINITY;
    let output = '';
    while (this.next < this.events.length) {
      const event = this.events[this.next];
      if (event === undefined || event.t > at || event.t >= holdFrom) break;
      this.next += 1;
      if (event.kind === 'output') {
        output += event.data;
        continue;
      }
      if (output !== '') {
        sink.write(output);
        output = '';
      }
      if (event.kind === 'resize' && event.size) sink.resize(event.size);
      else if (event.kind === 'input') sink.input(event.data);
    }
    if (output !== '') sink.write(output);
    // Keep memory flat on long recordings: forget what has been played.
    if (this.next > 4096) {
      this.events = this.events.slice(this.next);
      this.next = 0;
    }
  }

  /** Fetches ahead until at least one window past the playhead is loaded (or the end). */
  private async fill(generation: number): Promise<void> {
    if (this.fetching) return;
    this.fetching = true;
    try {
      let emptyWindows = 0;
      while (
        generation === this.generation &&
        !this.disposed &&
        this.horizonMs < this.end() &&
        (this.horizonMs - this.state.playheadMs < this.windowMs || this.next >= this.events.length)
      ) {
        const request = this.cursor;
        const page = await this.options.fetchFrames(request);
        if (generation !== this.generation || this.disposed) return;
        this.events.push(...page.events);
        const last = page.events[page.events.length - 1];
        if (page.nextFromSeq !== null) {
          // Cut short (size cap): continue within the same window.
          this.cursor = { fromMs: request.fromMs, toMs: request.toMs, fromSeq: page.nextFromSeq };
          this.horizonMs = Math.max(this.horizonMs, last?.t ?? request.fromMs);
        } else {
          this.horizonMs = request.toMs;
          emptyWindows = page.events.length === 0 ? emptyWindows + 1 : 0;
          const width = this.windowMs * 2 ** Math.min(emptyWindows, 8);
          this.cursor = { fromMs: request.toMs, toMs: Math.min(request.toMs + width, this.end()) };
        }
        if (page.events.length > 0) break;
      }
    } catch (error) {
      if (generation === this.generation) this.fail(error);
    } finally {
      if (generation === this.generation) this.fetching = false;
    }
    if (generation === this.generation && !this.state.playing) this.drain();
  }

  /**
   * The first output event after which the screen shows text (outputs are joined first: an
   * escape sequence may be split across events). Looks at the first 64 KiB of output only —
   * a recording that prints nothing readable for that long opens on its first output.
   */
  private firstVisibleOutput(): EngineEvent | undefined {
    let written = '';
    for (const event of this.events) {
      if (event.kind !== 'output') continue;
      written += event.data;
      if (hasVisibleText(written)) return event;
      if (written.length > 65_536) return undefined;
    }
    return undefined;
  }

  /** Fetch windows reach just past the last frame, so the event at durationMs is included. */
  private end(): number {
    return this.options.durationMs + 1;
  }

  private fail(error: unknown): void {
    const message =
      typeof error === 'object' && error !== null && 'message' in error
        ? String((error as { message: unknown }).message)
        : String(error);
    this.pause();
    this.update({ error: message, buffering: false });
  }

  private update(patch: Partial<EngineState>): void {
    this.state = { ...this.state, ...patch };
    this.options.onChange(this.state);
  }
}
