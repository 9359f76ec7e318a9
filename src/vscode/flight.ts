// Debounce and single-flight for generations: at most one generation runs at a time; a newer
// request aborts the older one and waits until it has really stopped before starting, so the
// worker never holds two generations. Plain TypeScript (no `vscode`), unit-tested in node.

/** Resolves true after `ms`, or false as soon as `signal` aborts (never rejects). */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, Math.max(0, ms));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Runs one job at a time; starting a job aborts the previous one ("latest wins"). */
export class SingleFlight {
  private current: { controller: AbortController; settled: Promise<void> } | undefined;
  private running = 0;
  /** Highest number of jobs observed running at once (1 when the invariant holds). */
  maxRunning = 0;
  /** Jobs superseded before they started. */
  skipped = 0;

  /** Jobs running now. */
  get active(): number {
    return this.running;
  }

  /**
   * Aborts the running job (if any), waits for it to settle, then runs `job` with a signal that
   * aborts when a newer job arrives or when `outer` aborts. Resolves undefined when superseded
   * before starting; otherwise resolves/rejects as `job` does.
   */
  async run<T>(job: (signal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T | undefined> {
    const controller = new AbortController();
    const previous = this.current;
    previous?.controller.abort();
    let settle!: () => void;
    const settled = new Promise<void>((r) => (settle = r));
    this.current = { controller, settled };
    const onOuterAbort = () => controller.abort();
    if (outer?.aborted) controller.abort();
    else outer?.addEventListener('abort', onOuterAbort, { once: true });
    try {
      if (previous) await previous.settled;
      if (controller.signal.aborted) {
        this.skipped++;
        return undefined;
      }
      this.running++;
      this.maxRunning = Math.max(this.maxRunning, this.running);
      try {
        return await job(controller.signal);
      } finally {
        this.running--;
      }
    } finally {
      outer?.removeEventListener('abort', onOuterAbort);
      if (this.current?.controller === controller) this.current = undefined;
      settle();
    }
  }

  /** Aborts whatever runs now. */
  cancel(): void {
    this.current?.controller.abort();
  }
}
