import type { SqlValue } from '../../lambda/index.js';
import type { Sleep } from '../clock.js';
import type { ServedRead, SingleKeyService } from './service.js';

/** A row the loop reads. */
export interface ReadTarget {
  readonly table: string;
  readonly id: SqlValue;
}

/** What the reads of a single-key app came to over a rotation. Times are the service's clock. */
export interface ReadWindow {
  readonly reads: number;
  /** Reads the serving process could not decrypt (its one key no longer opens the row). */
  readonly failed: number;
  /** Requests that got no answer about the row at all. */
  readonly errors: number;
  /** When the first failed read was answered: the first moved page had reached this app. */
  readonly firstFailedAt?: number;
  /** The generation of the process that replaced the one that failed first (the restart). */
  readonly restartedGeneration?: number;
  /** When that process answered its first successful read. */
  readonly firstOkAfterRestartAt?: number;
  /** From the first failed read to the first successful one after the restart. */
  readonly windowMs?: number;
  /** Failed reads served by the restarted process or a later one (zero when the restart worked). */
  readonly failedAfterRestart: number;
}

/**
 * Reads the targets round-robin, one request at a time, until stopped: an app's steady traffic during a
 * rotation. Every read's outcome and serving process is kept (no value is), so the window can be told
 * afterwards.
 */
export class ReadLoop {
  private readonly served: ServedRead[] = [];
  private running = true;
  private readonly done: Promise<void>;
  private readonly waiters: { until: (r: ServedRead) => boolean; resolve: () => void }[] = [];

  /**
   * @param sleep the pause between reads (inject one that only yields in tests).
   * @throws RangeError without targets.
   */
  constructor(
    private readonly service: SingleKeyService,
    private readonly targets: readonly ReadTarget[],
    private readonly sleep: Sleep,
    private readonly intervalMs = 0,
  ) {
    if (targets.length === 0) throw new RangeError('the read loop needs at least one row to read');
    this.done = this.run();
  }

  /** Resolves at the first read from now on that matches (for example: served ok by a newer process). */
  until(predicate: (read: ServedRead) => boolean): Promise<void> {
    return new Promise((resolve) => this.waiters.push({ until: predicate, resolve }));
  }

  /** Stops after the read in flight and tells the window. */
  async stop(): Promise<ReadWindow> {
    this.running = false;
    await this.done;
    return this.window();
  }

  /** The window so far. */
  window(): ReadWindow {
    const served = this.served;
    const firstFailed = served.find((r) => r.outcome === 'undecryptable');
    // The process after the one that failed first: the restart that brought the new key.
    const restart = firstFailed
      ? this.service.instances().find((i) => i.generation > firstFailed.generation)?.generation
      : undefined;
    const firstOk =
      restart === undefined ? undefined : served.find((r) => r.outcome === 'ok' && r.generation >= restart);
    return {
      reads: served.length,
      failed: served.filter((r) => r.outcome === 'undecryptable').length,
      errors: served.filter((r) => r.outcome === 'error').length,
      ...(firstFailed ? { firstFailedAt: firstFailed.at } : {}),
      ...(restart === undefined ? {} : { restartedGeneration: restart }),
      ...(firstOk ? { firstOkAfterRestartAt: firstOk.at } : {}),
      ...(firstFailed && firstOk ? { windowMs: firstOk.at - firstFailed.at } : {}),
      failedAfterRestart:
        restart === undefined
          ? 0
          : served.filter((r) => r.outcome === 'undecryptable' && r.generation >= restart).length,
    };
  }

  private async run(): Promise<void> {
    for (let i = 0; this.running; i++) {
      const target = this.targets[i % this.targets.length] as ReadTarget;
      const read = await this.service.read(target.table, target.id);
      this.served.push(read);
      for (const w of this.waiters.filter((x) => x.until(read))) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
      await this.sleep(this.intervalMs);
    }
  }
}
