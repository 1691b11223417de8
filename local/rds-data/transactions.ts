import { randomBytes } from 'node:crypto';
import type { LocalClock } from '../clock.js';
import type { Database, EngineTransaction } from '../engines/types.js';
import { SqlError } from '../engines/types.js';
import { DataApiError, transactionNotFound } from './errors.js';

/** How long transactions live: the service ends one three minutes after its last call, and at 24 hours. */
export interface TransactionTimeouts {
  readonly idleMs: number;
  readonly maxLifetimeMs: number;
}

/** The service's limits. */
export const DEFAULT_TRANSACTION_TIMEOUTS: TransactionTimeouts = {
  idleMs: 3 * 60_000,
  maxLifetimeMs: 24 * 3_600_000,
};

interface OpenTransaction {
  readonly id: string;
  readonly tx: EngineTransaction;
  readonly startedAt: number;
  lastUsed: number;
  busy: boolean;
}

/**
 * The open transactions of the local Data API. Like the service, it refuses a call on a transaction
 * that is unknown, already ended, idle for more than three minutes, or aborted by an error in an
 * earlier call, and refuses a second call while one is still running.
 */
export class TransactionRegistry {
  private readonly open = new Map<string, OpenTransaction>();

  constructor(
    private readonly clock: LocalClock,
    private readonly timeouts: TransactionTimeouts = DEFAULT_TRANSACTION_TIMEOUTS,
  ) {}

  /** How many transactions are open (for tests and stats). */
  get size(): number {
    return this.open.size;
  }

  /** Begins a transaction on the engine and returns its id. */
  async begin(engine: Database): Promise<string> {
    const tx = await engine.begin();
    const id = randomBytes(33).toString('base64');
    const now = this.clock.now();
    this.open.set(id, { id, tx, startedAt: now, lastUsed: now, busy: false });
    return id;
  }

  /**
   * Runs work inside a transaction. A SQL error ends the transaction (rolled back), as on the service.
   * @throws DataApiError TransactionNotFoundException, or DatabaseErrorException while another call runs.
   */
  async run<T>(id: string, work: (tx: EngineTransaction) => Promise<T>): Promise<T> {
    const entry = await this.take(id);
    try {
      return await work(entry.tx);
    } catch (error) {
      if (error instanceof SqlError) await this.discard(entry);
      throw error;
    } finally {
      entry.busy = false;
      entry.lastUsed = this.clock.now();
    }
  }

  /**
   * Commits or rolls back, and forgets the transaction either way.
   * @throws DataApiError as `run` does; SqlError when the commit itself fails.
   */
  async end(id: string, how: 'commit' | 'rollback'): Promise<void> {
    const entry = await this.take(id);
    this.open.delete(id);
    if (how === 'commit') await entry.tx.commit();
    else await entry.tx.rollback();
  }

  /** Rolls back every transaction past its idle timeout or lifetime, releasing their connections. */
  async expire(): Promise<void> {
    const now = this.clock.now();
    const expired = [...this.open.values()].filter((entry) => !entry.busy && this.isExpired(entry, now));
    await Promise.all(expired.map((entry) => this.discard(entry)));
  }

  /** Rolls back everything still open (on shutdown). */
  async closeAll(): Promise<void> {
    await Promise.all([...this.open.values()].map((entry) => this.discard(entry)));
  }

  private async take(id: string): Promise<OpenTransaction> {
    const entry = this.open.get(id);
    if (!entry) throw transactionNotFound(id);
    if (entry.busy) throw new DataApiError('DatabaseErrorException', 'Transaction is still running a query');
    if (this.isExpired(entry, this.clock.now())) {
      await this.discard(entry);
      throw transactionNotFound(id);
    }
    entry.busy = true;
    entry.lastUsed = this.clock.now();
    return entry;
  }

  private isExpired(entry: OpenTransaction, now: number): boolean {
    return now - entry.lastUsed > this.timeouts.idleMs || now - entry.startedAt > this.timeouts.maxLifetimeMs;
  }

  private async discard(entry: OpenTransaction): Promise<void> {
    if (this.open.get(entry.id) !== entry) return;
    this.open.delete(entry.id);
    // The connection is given back even if the rollback fails (the server may already have ended it).
    await entry.tx.rollback().catch(() => {});
  }
}
