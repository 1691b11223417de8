import {
  asText,
  type CodecName,
  codecFor,
  type DataKey,
  DecryptError,
  dataKeyFromSecretString,
  quoteIdentifier,
  type SqlRunner,
  type SqlValue,
} from '../../lambda/index.js';
import type { AppField } from './config.js';

/** What one read came to. `undecryptable`: the value is there but this app's one key does not open it. */
export type ReadOutcome = 'ok' | 'undecryptable' | 'missing';

/** Reads so far, by outcome. */
export interface ReadCounts {
  readonly reads: number;
  readonly ok: number;
  readonly undecryptable: number;
  readonly missing: number;
}

const PAGE_ROWS = 500;

/**
 * How an app that holds one key reads its stored fields, the way Redash does with REDASH_SECRET_KEY:
 * the key is fixed for the life of the process, there is no key ring to refresh and no other version
 * to try, so a row rewritten under a new key fails until the process restarts with it. It counts every
 * read, and keeps nothing it decrypted.
 */
export class SingleKeyReader {
  /** The public id of the key this reader holds. */
  readonly kid: string;
  private readonly key: DataKey;
  private readonly counts = { reads: 0, ok: 0, undecryptable: 0, missing: 0 };

  /**
   * @param keyValue the variable's value: the key field itself, or with `keyField` the whole secret value.
   * @throws SecretFormatError when it holds no usable key for the codec (the message names no value).
   */
  constructor(
    private readonly db: SqlRunner,
    private readonly codec: CodecName,
    private readonly fields: readonly AppField[],
    keyValue: string,
    keyField?: string,
  ) {
    this.key =
      keyField === undefined
        ? codecFor(codec).deriveKey(keyValue)
        : dataKeyFromSecretString(keyValue, keyField, codec);
    this.kid = this.key.kid;
  }

  /** The tables this app reads. */
  tables(): string[] {
    return this.fields.map((f) => f.table);
  }

  /**
   * Reads and decrypts one row's field.
   * @throws RangeError for a table the app does not read; the Data API's error when the read itself fails.
   */
  async read(table: string, id: SqlValue): Promise<ReadOutcome> {
    const field = this.field(table);
    const result = await this.db.execute(
      `SELECT ${this.q(field.column)} FROM ${this.from(field)} WHERE ${this.q(field.id)} = :id`,
      { id },
      { expectRows: true },
    );
    const value = result.rows[0]?.[0];
    return this.count(value === undefined || value === null ? 'missing' : this.open(field, value));
  }

  /** Reads every row of a table, page by page, as a listing page of the app would. */
  async readAll(table: string): Promise<{ rows: number; undecryptable: number }> {
    const field = this.field(table);
    let after: SqlValue | undefined;
    let rows = 0;
    let undecryptable = 0;
    for (;;) {
      const where = after === undefined ? '' : ` WHERE ${this.q(field.id)} > :after`;
      const page = await this.db.execute(
        `SELECT ${this.q(field.id)}, ${this.q(field.column)} FROM ${this.from(field)}${where} ORDER BY ${this.q(field.id)} LIMIT ${PAGE_ROWS}`,
        after === undefined ? {} : { after },
        { expectRows: true },
      );
      for (const [id, value] of page.rows) {
        after = id ?? null;
        if (value === undefined || value === null) continue;
        rows++;
        if (this.count(this.open(field, value)) === 'undecryptable') undecryptable++;
      }
      if (page.rows.length < PAGE_ROWS) return { rows, undecryptable };
    }
  }

  /** Reads so far, by outcome. */
  stats(): ReadCounts {
    return { ...this.counts };
  }

  private open(field: AppField, value: SqlValue): ReadOutcome {
    const stored = typeof value === 'string' || value instanceof Uint8Array ? asText(value) : String(value);
    try {
      // The plaintext is dropped at once: this app only proves it can read the row.
      codecFor(this.codec).decrypt(stored, this.key, { table: field.table, column: field.column });
      return 'ok';
    } catch (error) {
      if (error instanceof DecryptError) return 'undecryptable';
      throw error;
    }
  }

  private count(outcome: ReadOutcome): ReadOutcome {
    this.counts.reads++;
    this.counts[outcome]++;
    return outcome;
  }

  private field(table: string): AppField {
    const field = this.fields.find((f) => f.table === table);
    if (!field) throw new RangeError(`this app does not read table '${table}'`);
    return field;
  }

  private from(field: AppField): string {
    const table = this.q(field.table);
    return field.schema ? `${this.q(field.schema)}.${table}` : table;
  }

  private q(name: string): string {
    return quoteIdentifier(this.db.dialect, name);
  }
}
