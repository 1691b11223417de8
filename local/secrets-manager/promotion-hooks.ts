import type { LocalClock, Sleep } from '../clock.js';

/**
 * What the hooks receive when a new version of a secret becomes AWSCURRENT: the event the deployed
 * wiring puts on EventBridge (source `rekey`, detail-type `Secret version promoted`), so a handler
 * written for that event runs locally unchanged. It names the secret and version, never a value.
 */
export interface SecretVersionPromoted {
  readonly source: 'rekey';
  readonly 'detail-type': 'Secret version promoted';
  /** ISO 8601, as EventBridge gives it. */
  readonly time: string;
  readonly detail: { readonly secretArn: string; readonly versionId: string };
}

/** Runs after a promotion, outside the request that made it; a rejection is a failed attempt. */
export type PromotionHook = (event: SecretVersionPromoted) => Promise<void> | void;

/** How one hook fared for one promotion: each failed attempt, then the final outcome. */
export interface PromotionHookReport {
  readonly hook: string;
  readonly secretArn: string;
  readonly versionId: string;
  readonly attempt: number;
  /** `retrying` after a failed attempt that will be tried again; `failed` when the attempts ran out. */
  readonly outcome: 'succeeded' | 'retrying' | 'failed';
  /** Epoch milliseconds. */
  readonly at: number;
  /** The error's name and message (hooks, like rotation steps, keep values out of their errors). */
  readonly error?: { readonly name: string; readonly message: string };
}

/** Retries of a failed hook, as the deployed EventBridge target retries. */
export interface PromotionHookRetry {
  /** Attempts per hook and promotion, the first included. @default 3 */
  readonly attempts?: number;
  /** Pause before the second attempt, doubled before each one after. @default 1000 */
  readonly delayMs?: number;
}

const MAX_REPORTS = 1000;

/**
 * The "after promotion" hooks of the local Secrets Manager. A promotion queues one run of every
 * registered hook and returns at once, so the call that promoted (finishSecret's
 * UpdateSecretVersionStage) stays fast and never fails because of a hook. Each hook has its own queue:
 * two promotions in a row run it twice, in order, and a slow hook delays no other.
 */
export class PromotionHooks {
  private readonly hooks = new Map<PromotionHook, { name: string; queue: Promise<void> }>();
  private readonly log: PromotionHookReport[] = [];
  private readonly listeners = new Set<(report: PromotionHookReport) => void>();
  private readonly attempts: number;
  private readonly delayMs: number;
  private stopped = false;

  /** @throws RangeError for attempts that are not a positive integer or a negative delay. */
  constructor(
    private readonly clock: LocalClock,
    private readonly sleep: Sleep,
    retry: PromotionHookRetry = {},
  ) {
    this.attempts = retry.attempts ?? 3;
    this.delayMs = retry.delayMs ?? 1000;
    if (!Number.isInteger(this.attempts) || this.attempts < 1)
      throw new RangeError(`promotion hook attempts must be a positive integer, got ${this.attempts}`);
    if (!(this.delayMs >= 0))
      throw new RangeError(`promotion hook delayMs must be zero or more, got ${this.delayMs}`);
  }

  /** Registers a hook (its name goes in reports); returns the function that removes it. */
  add(hook: PromotionHook, name = hook.name || 'hook'): () => void {
    if (!this.hooks.has(hook)) this.hooks.set(hook, { name, queue: Promise.resolve() });
    return () => {
      this.hooks.delete(hook);
    };
  }

  /** Queues every hook for this promotion; returns before any of them runs. */
  promoted(secretArn: string, versionId: string): void {
    if (this.stopped) return;
    const event: SecretVersionPromoted = {
      source: 'rekey',
      'detail-type': 'Secret version promoted',
      time: new Date(this.clock.now()).toISOString(),
      detail: { secretArn, versionId },
    };
    for (const [hook, entry] of this.hooks) {
      // After the current turn, so the call that promoted has answered before a hook starts; the
      // queue never rejects (runWithRetries reports instead).
      entry.queue = entry.queue.then(afterThisTurn).then(() => this.runWithRetries(hook, entry.name, event));
    }
  }

  /** Resolves once every queued hook run has finished (succeeded or run out of attempts). */
  async idle(): Promise<void> {
    // A hook that promotes again queues more work behind itself: wait until nothing new was queued.
    for (;;) {
      const queues = [...this.hooks.values()].map((e) => e.queue);
      await Promise.all(queues);
      const now = [...this.hooks.values()].map((e) => e.queue);
      if (now.length === queues.length && now.every((q, i) => q === queues[i])) return;
    }
  }

  /** Every attempt's outcome so far, oldest first (bounded). */
  reports(): readonly PromotionHookReport[] {
    return [...this.log];
  }

  /** Calls `listener` for each report from now on; returns the function that stops it. */
  onReport(listener: (report: PromotionHookReport) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Queues nothing more and makes no further retries; a hook already running finishes. */
  stop(): void {
    this.stopped = true;
  }

  private async runWithRetries(
    hook: PromotionHook,
    name: string,
    event: SecretVersionPromoted,
  ): Promise<void> {
    const { secretArn, versionId } = event.detail;
    for (let attempt = 1; ; attempt++) {
      if (this.stopped || !this.hooks.has(hook)) return;
      try {
        await hook(event);
        this.report({
          hook: name,
          secretArn,
          versionId,
          attempt,
          outcome: 'succeeded',
          at: this.clock.now(),
        });
        return;
      } catch (error) {
        const last = attempt >= this.attempts;
        this.report({
          hook: name,
          secretArn,
          versionId,
          attempt,
          outcome: last ? 'failed' : 'retrying',
          at: this.clock.now(),
          error: describe(error),
        });
        if (last) return;
        await this.sleep(this.delayMs * 2 ** (attempt - 1));
      }
    }
  }

  private report(report: PromotionHookReport): void {
    this.log.push(report);
    if (this.log.length > MAX_REPORTS) this.log.splice(0, this.log.length - MAX_REPORTS);
    for (const listener of this.listeners) {
      try {
        listener(report);
      } catch {
        // A listener's own failure must not turn into a failed hook or a lost report for the others.
      }
    }
  }
}

const afterThisTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function describe(error: unknown): { name: string; message: string } {
  return error instanceof Error
    ? { name: error.name, message: error.message }
    : { name: 'Error', message: String(error) };
}
