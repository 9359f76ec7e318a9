// When to restart the inference worker after it dies: exponential backoff, and giving up after too
// many crashes in a short window (a model that crashes on load would otherwise loop forever).
// Plain TypeScript with an injectable clock, unit-tested in node.

export interface RestartPolicyOptions {
  /** First delay in ms; doubles per consecutive crash. */
  baseMs: number;
  maxMs: number;
  /** Give up after this many crashes within `windowMs`. */
  maxCrashes: number;
  windowMs: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicyOptions = { baseMs: 500, maxMs: 15_000, maxCrashes: 5, windowMs: 3 * 60_000 };

export class RestartPolicy {
  private crashes: number[] = [];

  constructor(private readonly opts: RestartPolicyOptions = DEFAULT_RESTART_POLICY, private readonly now: () => number = Date.now) {}

  /** Records a crash; returns the delay before the next start, or undefined to give up. */
  onCrash(): number | undefined {
    const t = this.now();
    this.crashes = this.crashes.filter((c) => t - c < this.opts.windowMs);
    this.crashes.push(t);
    if (this.crashes.length >= this.opts.maxCrashes) return undefined;
    return Math.min(this.opts.maxMs, this.opts.baseMs * 2 ** (this.crashes.length - 1));
  }

  /** Forgets earlier crashes (after a user asks for a restart explicitly). */
  reset(): void {
    this.crashes = [];
  }

  get recentCrashes(): number {
    return this.crashes.length;
  }
}
