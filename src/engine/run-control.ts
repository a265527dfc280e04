// What the parts of a run (batcher, dispatcher, committer) share, as explicit state: whether
// the run has stopped and why, a wake-up when batches commit, and the count of events sent
// but not yet settled.

/** Whether a run goes on: its first fatal error, a stop signal, and a wake-up on every change. */
export class RunControl {
  /** The first error that failed the run. */
  fatal: Error | undefined;
  /** Aborted once the run has failed: batches still waiting to retry give up. */
  readonly halt = new AbortController();
  private wake: () => void = () => undefined;
  private next = new Promise<void>((resolve) => (this.wake = resolve));

  constructor(private readonly signal?: AbortSignal) {
    signal?.addEventListener('abort', () => {
      // A lost lock (an Error) fails the run at once; a signal lets batches in flight settle.
      if (signal.reason instanceof Error) this.fail(signal.reason);
      else this.changed();
    }, { once: true });
  }

  /** Fails the run (the first error wins); batches in flight still settle. */
  record(error: unknown): void {
    this.fatal ??= error as Error;
  }

  /** Fails the run (the first error wins) and stops what waits, retries included. */
  fail(error: unknown): void {
    this.fatal ??= error as Error;
    this.halt.abort();
    this.changed();
  }

  /** Failed, or asked to stop: read no more. */
  get stopped(): boolean {
    return this.fatal !== undefined || this.signal?.aborted === true;
  }

  /** Stopped by a signal (not a failure): batches in flight settled and were checkpointed. */
  get interrupted(): boolean {
    return !this.fatal && this.signal?.aborted === true;
  }

  /** An Error given as the signal's reason (a lost lock) fails the run. */
  failIfAbortedWithError(): void {
    const reason: unknown = this.signal?.aborted ? this.signal.reason : undefined;
    if (reason instanceof Error) this.fatal ??= reason;
  }

  /** Resolves at the next change (a commit, a failure, a stop). */
  whenChanged(): Promise<void> {
    return this.next;
  }

  changed(): void {
    this.wake();
    this.next = new Promise<void>((resolve) => (this.wake = resolve));
  }
}

/**
 * What a crash right now could leave sent but unsettled: this run's dispatched, uncommitted
 * events, or what is left of an earlier run's, whichever reaches further.
 */
export class UnsettledEvents {
  private dispatchedEvents = 0;
  private committedEvents = 0;

  /** `prior`: events an earlier run sent but never settled, the first ones after the checkpoint. */
  constructor(readonly prior: number) {}

  /** Whether the run is still resending what an earlier run left unsettled. */
  get resending(): boolean {
    return this.dispatchedEvents < this.prior;
  }

  dispatched(events: number): void {
    this.dispatchedEvents += events;
  }

  committed(events: number): void {
    this.committedEvents += events;
  }

  /** Unsettled events now, or once `committing` more events commit. */
  now(committing = 0): number {
    const settledEvents = this.committedEvents + committing;
    return Math.max(this.prior - settledEvents, this.dispatchedEvents - settledEvents, 0);
  }
}
