/**
 * The progress display. On a terminal: one status line on stderr, redrawn in place (every second
 * and on every phase change) and cleared while a log line is printed so the two never mix. Off a
 * terminal (CI, pipes, files): a plain `[progress] ...` line at most every `plainIntervalMs` (10 s),
 * written at phase boundaries or by a timer during long phases. Timers are unref'd: the display
 * never keeps the process alive.
 *
 * The trainer drives it: startStep(i) → phase('rollout') → addTokens(n) ... → endStep(i) → close().
 */
import { RateWindow, estimateEtaSeconds, fitToWidth, formatProgress } from './progress-format.js';
import type { StatusLine, TextSink } from './types.js';

export interface ProgressOptions {
  totalSteps: number;
  /** Where the status goes (default process.stderr). */
  stream?: TextSink;
  /** 'auto' (default): redraw in place when the stream is a TTY, plain lines otherwise. 'off' prints nothing. */
  mode?: 'auto' | 'tty' | 'plain' | 'off';
  /** Minimum time between plain lines (default 10 000 ms). */
  plainIntervalMs?: number;
  /** Redraw period on a terminal (default 1 000 ms). */
  refreshMs?: number;
  /** Milliseconds clock (tests drive it). */
  now?: () => number;
  /** Set false in tests to drive output by hand only. */
  timers?: boolean;
}

const CLEAR_LINE = '\r\x1b[2K';

export class ProgressDisplay implements StatusLine {
  private readonly stream: TextSink;
  private readonly mode: 'tty' | 'plain' | 'off';
  private readonly now: () => number;
  private readonly plainIntervalMs: number;
  private readonly startedAt: number;
  private readonly rate = new RateWindow(30);
  private readonly timer: NodeJS.Timeout | null = null;
  private step = 0;
  private phaseName = '';
  private stepStartedAt: number;
  private finishedInSession = 0;
  private sessionStepMs = 0;
  private doneSteps = 0;
  private drawn = false;
  private lastPlainAt = -Infinity;
  private closed = false;

  constructor(readonly options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    const mode = options.mode ?? 'auto';
    this.mode = mode === 'auto' ? (this.stream.isTTY ? 'tty' : 'plain') : mode;
    this.now = options.now ?? (() => performance.now());
    this.plainIntervalMs = options.plainIntervalMs ?? 10_000;
    this.startedAt = this.stepStartedAt = this.now();
    if (this.mode !== 'off' && options.timers !== false) {
      const period = this.mode === 'tty' ? options.refreshMs ?? 1000 : this.plainIntervalMs;
      this.timer = setInterval(() => this.tick(), period);
      this.timer.unref();
    }
  }

  /** Step `step` (1-based) begins. After a resume the first call is the resumed step. */
  startStep(step: number): void {
    this.step = step;
    this.doneSteps = step - 1;
    this.stepStartedAt = this.now();
    this.phaseName = '';
  }

  /** A named phase of the current step begins (veRL's timer names: gen, ref, values, adv, update_actor, ...). */
  phase(name: string): void {
    this.phaseName = name;
    this.tick();
  }

  /** Counts tokens processed (generated, or scored in a forward/backward) for the tokens/s figure. */
  addTokens(count: number): void {
    this.rate.add(count, this.now() / 1000);
  }

  endStep(step: number): void {
    this.finishedInSession++;
    this.sessionStepMs += this.now() - this.stepStartedAt;
    this.doneSteps = step;
    this.stepStartedAt = this.now();
    this.phaseName = 'done';
    this.tick();
  }

  /** The current status text (what the line shows). */
  text(): string {
    const now = this.now();
    const currentStepElapsed = this.phaseName === 'done' ? 0 : (now - this.stepStartedAt) / 1000;
    return formatProgress({
      step: this.step,
      totalSteps: this.options.totalSteps,
      phase: this.phaseName,
      tokensPerSecond: this.rate.rate(),
      elapsedSeconds: (now - this.startedAt) / 1000,
      etaSeconds: estimateEtaSeconds({
        doneSteps: this.doneSteps,
        totalSteps: this.options.totalSteps,
        finishedInSession: this.finishedInSession,
        sessionStepSeconds: this.sessionStepMs / 1000,
        currentStepElapsed,
      }),
    });
  }

  printAbove(print: () => void): void {
    if (this.mode !== 'tty' || !this.drawn) {
      print();
      return;
    }
    this.stream.write(CLEAR_LINE);
    this.drawn = false;
    print();
    this.draw();
  }

  /** Redraw (terminal) or maybe print a plain line; the timer calls this too. */
  tick(): void {
    if (this.closed || this.step === 0) return;
    if (this.mode === 'tty') this.draw();
    else if (this.mode === 'plain' && this.now() - this.lastPlainAt >= this.plainIntervalMs) {
      this.lastPlainAt = this.now();
      this.stream.write(`[progress] ${this.text()}\n`);
    }
  }

  /** Stops the timer and removes the status line, leaving the terminal as it was. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.mode === 'tty' && this.drawn) this.stream.write(CLEAR_LINE);
    this.drawn = false;
  }

  private draw(): void {
    this.stream.write(CLEAR_LINE + fitToWidth(this.text(), this.stream.columns));
    this.drawn = true;
  }
}
