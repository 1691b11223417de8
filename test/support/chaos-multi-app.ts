import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { CodecName } from '../../lambda/config.js';
import type { Clock, SqlRunner, SqlValue } from '../../lambda/ports.js';
import { KeyRing } from '../../lambda/reader.js';
import { type Hygiene, PLAINTEXT_MARKER } from './chaos-hygiene.js';
import { type ChaosWorld, normalizeId } from './chaos-world.js';

/** Pause between two operations of one app instance (real time: pacing, not waiting for a deadline). */
const APP_PAUSE_MS = 5;
/** Rows an instance inserts per table at most, so the tables stay a few dozen rows. */
const MAX_INSERTS = 4;
/** Seeded rows are shared out over this many instances (by position), one writer per row. */
export const APP_SLOTS = 4;
/** How long waiting for the app to make progress may take before the test gives up (real time). */
const PROGRESS_TIMEOUT_MS = 60_000;

/** A table the app writes through the reader library: its encrypted column and how it is keyed. */
export interface AppTarget {
  readonly table: string;
  readonly column: string;
  readonly codec: CodecName;
  readonly dataKeyField: string;
  readonly binary: boolean;
  /** Every id the table holds (seeded, then inserted by any instance), for reads. */
  readonly ids: SqlValue[];
  /** The seeded ids in order, shared out over the instances for updates. */
  readonly seeded: readonly SqlValue[];
  readonly firstInsertId: number;
}

/** One write, as the reader-bound check sees it. */
export interface AppWrite {
  readonly instance: string;
  readonly table: string;
  readonly column: string;
  /** The stored text (a binary column's bytes as latin1). */
  readonly stored: string;
  /** The clock when the instance asked its ring to encrypt. */
  readonly encryptedAt: number;
}

/** What every instance shares: the app's connection, its Secrets Manager client and the world. */
export interface AppEnv {
  readonly db: SqlRunner;
  readonly client: Pick<SecretsManagerClient, 'send'>;
  readonly secretId: string;
  readonly clock: Clock;
  /** The rings' reader bound (the rotation's `readers.maxAgeMs`). */
  readonly maxAgeMs: number;
  readonly minRefreshIntervalMs: number;
  readonly targets: readonly AppTarget[];
  readonly world: ChaosWorld;
  readonly hygiene: Hygiene;
  readonly onWrite: (write: AppWrite) => void;
}

/** How an instance uses the data. */
export interface AppHabit {
  /** Share of operations that read and decrypt a row; 0 for an instance that never decrypts. */
  readonly readShare: number;
}

/**
 * One app instance with its own key rings (one per codec), on the app's connection: it inserts and
 * updates the rows it owns, reads any row, and remembers what it last wrote per row. Reading a row
 * of its own must give back what it last wrote there (the rotation's compare-and-swap may change the
 * ciphertext, never the plaintext); every failure is kept, never thrown, so the loop goes on.
 */
export class AppInstance {
  /** `table/id` → the plaintext this instance last wrote there. */
  readonly lastWritten = new Map<
    string,
    { table: string; column: string; id: SqlValue; plaintext: string }
  >();
  readonly failures: string[] = [];
  writes = 0;
  reads = 0;
  /** Writes per table, for waiting until every ring has encrypted after a point in time. */
  readonly writesByTable = new Map<string, number>();
  private readonly own = new Map<string, SqlValue[]>();
  private readonly inserted = new Map<string, number>();
  private n = 0;

  private constructor(
    readonly name: string,
    readonly slot: number,
    readonly habit: AppHabit,
    private readonly env: AppEnv,
    readonly rings: ReadonlyMap<string, KeyRing>,
  ) {
    for (const t of env.targets) {
      this.own.set(
        t.table,
        t.seeded.filter((_, i) => i % APP_SLOTS === slot),
      );
    }
  }

  /** Loads the instance's rings now (one KeyRing per table's codec, with the reader bound). */
  static async load(name: string, slot: number, habit: AppHabit, env: AppEnv): Promise<AppInstance> {
    const rings = new Map<string, KeyRing>();
    for (const t of env.targets) {
      rings.set(
        t.table,
        await KeyRing.load({
          client: env.client,
          secretId: env.secretId,
          codec: t.codec,
          dataKeyField: t.dataKeyField,
          clock: env.clock,
          maxAgeMs: env.maxAgeMs,
          minRefreshIntervalMs: env.minRefreshIntervalMs,
        }),
      );
    }
    return new AppInstance(name, slot, habit, env, rings);
  }

  /** Reloads every ring now. */
  async refresh(): Promise<void> {
    await Promise.all([...this.rings.values()].map((r) => r.refresh()));
  }

  /** The key ids the ring for `table` holds (public ids, for diagnostics). */
  keyIds(table: string): string[] {
    return this.ring(table).keyIds;
  }

  /** One operation: a read (per the habit) or a write (an insert while under the cap, else an update). */
  async op(): Promise<void> {
    const n = this.n++;
    const t = this.env.targets[(n + this.slot) % this.env.targets.length] as AppTarget;
    const draw = (((n + 1) * 2_654_435_761 + this.slot * 40_503) >>> 0) % 1000;
    try {
      if (draw < this.habit.readShare * 1000) await this.read(t, n);
      else await this.write(t, n);
    } catch (error) {
      this.env.hygiene.captureError(error);
      this.failures.push(`${this.name} on ${t.table}: ${(error as Error).name}: ${(error as Error).message}`);
    }
  }

  private ring(table: string): KeyRing {
    return this.rings.get(table) as KeyRing;
  }

  private async write(t: AppTarget, n: number): Promise<void> {
    const where = { table: t.table, column: t.column };
    const own = this.own.get(t.table) as SqlValue[];
    const inserts = this.inserted.get(t.table) ?? 0;
    const insert = (n % 5 === 0 || own.length === 0) && inserts < MAX_INSERTS;
    const id = insert ? t.firstInsertId + this.slot * 1000 + inserts : (own[(n * 7919) % own.length] ?? null);
    if (id === null) return;
    const plaintext = `${PLAINTEXT_MARKER}${this.name} write ${this.writes} to ${t.table}`;
    const encryptedAt = this.env.clock.now();
    const stored = await this.ring(t.table).encrypt(plaintext, where);
    const value = t.binary ? Buffer.from(stored, 'latin1') : stored;
    const pg = this.env.db.dialect === 'postgres';
    const v = pg && t.binary ? 'CAST(:v AS bytea)' : ':v';
    if (insert) {
      await this.env.db.execute(`INSERT INTO ${t.table} (id, ${t.column}) VALUES (:id, ${v})`, {
        id,
        v: value,
      });
      this.inserted.set(t.table, inserts + 1);
      own.push(id);
      t.ids.push(id);
    } else {
      const r = await this.env.db.execute(`UPDATE ${t.table} SET ${t.column} = ${v} WHERE id = :id`, {
        id,
        v: value,
      });
      if (r.updated !== 1)
        this.failures.push(`${this.name}: update of ${t.table} row ${String(id)} hit no row`);
    }
    this.lastWritten.set(`${t.table}/${normalizeId(id)}`, {
      table: t.table,
      column: t.column,
      id,
      plaintext,
    });
    this.env.world.noteWrite(t.table, t.column, id, plaintext, insert);
    this.writes++;
    this.writesByTable.set(t.table, (this.writesByTable.get(t.table) ?? 0) + 1);
    this.env.onWrite({ instance: this.name, table: t.table, column: t.column, stored, encryptedAt });
  }

  private async read(t: AppTarget, n: number): Promise<void> {
    const id = t.ids[(n * 104_729 + this.slot * 31) % t.ids.length] ?? null;
    const r = await this.env.db.execute(`SELECT ${t.column} FROM ${t.table} WHERE id = :id`, { id });
    const v = r.rows[0]?.[0] ?? null;
    if (v === null) return;
    const plain = await this.ring(t.table).decryptString(v instanceof Uint8Array ? v : String(v), {
      table: t.table,
      column: t.column,
    });
    this.reads++;
    // Only this instance writes its rows, so what it reads there must be what it (or the seed) wrote.
    if ((this.own.get(t.table) ?? []).some((o) => normalizeId(o) === normalizeId(id))) {
      const want = this.env.world.expected.get(`${t.table}/${t.column}/${normalizeId(id)}`);
      if (plain !== want)
        this.failures.push(`${this.name}: ${t.table} row ${String(id)} does not read back as last written`);
    }
  }
}

/**
 * The app instances, each running its own loop of operations until stopped. {@link AppFleet.paused}
 * holds them all between two operations, so a check sees the tables and the app's log of writes agree.
 */
export class AppFleet {
  readonly instances: AppInstance[] = [];
  private pauses = 0;
  private resumed: (() => void)[] = [];
  private readonly inflight = new Map<AppInstance, Promise<void>>();
  private readonly loops: Promise<void>[] = [];
  private stopped = false;

  /** Adds an instance and starts its loop. */
  add(instance: AppInstance): void {
    this.instances.push(instance);
    this.loops.push(this.loop(instance));
  }

  private async loop(instance: AppInstance): Promise<void> {
    while (!this.stopped) {
      while (this.pauses > 0 && !this.stopped) await new Promise<void>((r) => this.resumed.push(r));
      if (this.stopped) return;
      const op = instance.op();
      this.inflight.set(instance, op);
      await op;
      this.inflight.delete(instance);
      await new Promise((r) => setTimeout(r, APP_PAUSE_MS));
    }
  }

  /** Runs `fn` while no instance is in the middle of an operation. */
  async paused<T>(fn: () => Promise<T>): Promise<T> {
    this.pauses++;
    try {
      await Promise.all(this.inflight.values());
      return await fn();
    } finally {
      if (--this.pauses === 0) for (const r of this.resumed.splice(0)) r();
    }
  }

  /**
   * Waits until every instance has written to every table at least `writes` more times than now
   * (write-only and read-mostly instances alike), so each ring has encrypted at the current time.
   * @throws Error after a minute of no such progress.
   */
  async eachWrites(writes: number, label: string): Promise<void> {
    const from = new Map(this.instances.map((i) => [i, new Map(i.writesByTable)]));
    const tables = [...(this.instances[0]?.rings.keys() ?? [])];
    const done = () =>
      this.instances.every((i) =>
        tables.every((t) => (i.writesByTable.get(t) ?? 0) - (from.get(i)?.get(t) ?? 0) >= writes),
      );
    const started = Date.now();
    while (!done()) {
      if (Date.now() - started > PROGRESS_TIMEOUT_MS) throw new Error(`${label}: the app made no progress`);
      await new Promise((r) => setTimeout(r, APP_PAUSE_MS));
    }
  }

  /** Waits until `instance` has done `ops` more reads and writes. */
  async opsOf(instance: AppInstance, ops: number, label: string): Promise<void> {
    const from = instance.reads + instance.writes;
    const started = Date.now();
    while (instance.reads + instance.writes - from < ops) {
      if (Date.now() - started > PROGRESS_TIMEOUT_MS) throw new Error(`${label}: the app made no progress`);
      await new Promise((r) => setTimeout(r, APP_PAUSE_MS));
    }
  }

  /** Stops every loop after its current operation. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const r of this.resumed.splice(0)) r();
    await Promise.all(this.loops);
  }

  get writes(): number {
    return this.instances.reduce((n, i) => n + i.writes, 0);
  }

  get reads(): number {
    return this.instances.reduce((n, i) => n + i.reads, 0);
  }

  get failures(): string[] {
    return this.instances.flatMap((i) => i.failures);
  }
}
