/**
 * The errors rekey raises on purpose. Each names what went wrong and what to do, never a key, a
 * secret value or a decrypted field.
 */

/** Base class: every error rekey raises on purpose extends it. */
export class RekeyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RekeyError';
  }
}

/** The configuration (environment, file or CDK props) is invalid; nothing has been touched. */
export class ConfigError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConfigError';
  }
}

/** The rotation event is malformed or names an unknown step. */
export class EventError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EventError';
  }
}

/** The secret's state does not allow this step (rotation disabled, token not pending, ...). */
export class RotationStateError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RotationStateError';
  }
}

/** A secret version's value does not match the template. The message names fields, never values. */
export class SecretFormatError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretFormatError';
  }
}

/** Rows of one column under one key that no staged version holds (a public key id, never a key). */
export interface StrandedRows {
  readonly table: string;
  readonly column: string;
  readonly keyId: string;
  readonly rows: number;
}

/**
 * Stored rows use a key that no staged version holds; going on would strand them. The message lists
 * the rows by column and key id and every cause that can lead here, since the fix differs by cause.
 */
export class StrandedRowsError extends RekeyError {
  constructor(
    readonly stranded: readonly StrandedRows[],
    /** What else is known (the last promotion rekey recorded), for the message. */
    context?: string,
    options?: { cause?: unknown },
  ) {
    const rows = stranded.reduce((n, s) => n + s.rows, 0);
    const where = stranded.map((s) => `${s.table}.${s.column}: ${s.rows} rows under key id '${s.keyId}'`);
    super(
      `${rows} stored rows are under keys that no version staged AWSCURRENT, AWSPENDING or AWSPREVIOUS holds ` +
        `(${where.join('; ')})${context ? `; ${context}` : ''}. Refusing to go on rather than strand them further. ` +
        'Possible causes: (1) an app instance outside the reader contract kept encrypting with a key after it was ' +
        'unstaged (a key ring with a larger maxAgeMs than the rotation assumes, a reader that never refreshes, an app ' +
        'that reads one key from its environment at start, a reader in another language); (2) a value written to the ' +
        'secret by hand during a rotation, which makes Secrets Manager drop AWSPENDING from a version rows were ' +
        'already moved to; (3) rows copied or restored from another environment or an old backup; (4) a `rekey abort` ' +
        'that raced a running step. To tell them apart, find the version that holds the key id (`rekey inventory`, ' +
        '`aws secretsmanager list-secret-version-ids --include-deprecated`) and when the rows were written: ' +
        'docs/operations.md, "Rows under an unstaged key"',
      options,
    );
    this.name = 'StrandedRowsError';
  }

  /** How many rows in all. */
  get rows(): number {
    return this.stranded.reduce((n, s) => n + s.rows, 0);
  }
}

/**
 * A pass read fewer rows than the table holds, or none of those it was asked for: it has proven
 * nothing, so the step fails rather than count it as done. Counts only, never values.
 */
export class IncompletePassError extends RekeyError {
  constructor(
    readonly table: string,
    readonly column: string,
    /** Rows the table held for the pass (COUNT before, and after, the pass). */
    readonly expected: { readonly before: number; readonly after: number },
    /** Rows the pass actually read. */
    readonly seen: number,
    readonly pass: string,
    options?: { cause?: unknown },
  ) {
    super(
      `${pass}: read ${seen} rows of ${table}.${column}, which held ${expected.before} rows before the pass and ` +
        `${expected.after} after; app writes during the pass explain a count between those two, nothing else. ` +
        'Possible causes: a Data API answer without the records that were asked for (a proxy, an SDK or endpoint ' +
        'that leaves formattedRecords out), an id column whose values do not round-trip (keyset paging then skips ' +
        'rows), or rows deleted and inserted in bulk during the pass (then the retry passes)',
      options,
    );
    this.name = 'IncompletePassError';
  }
}

/**
 * A compare-and-swap write matched no row although the row still held exactly the value that was read:
 * rekey's own miss, never an app write. Retrying cannot help; the rotation stops before it promotes a
 * version that these rows are not under. Ids only, never values.
 */
export class WriteMissedError extends RekeyError {
  constructor(
    readonly table: string,
    readonly column: string,
    readonly ids: readonly string[],
    readonly rows: number,
    options?: { cause?: unknown },
  ) {
    super(
      `${table}.${column}: the compare-and-swap matched none of ${rows} rows that still hold the value rekey read ` +
        `(ids ${ids.join(', ')}). The row is rekey's miss, not an app write. Possible causes: the id column's values ` +
        'do not compare equal to themselves once read back (CHAR padding, a type rekey reads lossily), a trigger ' +
        'or rule that rewrites the column, a collation that alters the value. Check the id and column types',
      options,
    );
    this.name = 'WriteMissedError';
  }
}

/**
 * One statement ran past the Data API's 45 s on several attempts in a row: it is slow, not unlucky, and
 * more attempts would spend the invocation on it. The message lists what makes a statement that slow,
 * since the fix differs by cause; `cause` is the last StatementTimeoutException.
 */
export class StatementTooSlowError extends RekeyError {
  constructor(
    readonly attempts: number,
    options?: { cause?: unknown },
  ) {
    super(
      `a statement ran past the Data API's 45 s limit on ${attempts} attempts in a row (StatementTimeoutException), ` +
        'so rekey stopped retrying it; the step fails and its next attempt resumes where this one stopped. ' +
        'Possible causes, to check: (1) an app transaction holding locks on rows rekey writes (PostgreSQL: ' +
        "pg_stat_activity for old xact_start or 'idle in transaction'; MySQL: information_schema.innodb_trx); " +
        "(2) the database short of CPU or I/O (its metrics; a lower pacing in the config eases rekey's share); " +
        '(3) a table so large that a statement over a whole column (its count and sizes, its key ranges) takes ' +
        '45 s (docs/operations.md gives the measured rates)',
      options,
    );
    this.name = 'StatementTooSlowError';
  }
}

/** setSecret stopped before the Lambda's time ran out; the next attempt resumes. */
export class NotFinishedError extends RekeyError {
  constructor(
    readonly done: number,
    readonly total: number,
    options?: { cause?: unknown },
  ) {
    super(
      `not finished: ${done} of ${total} rows done; the next attempt resumes where this one stopped`,
      options,
    );
    this.name = 'NotFinishedError';
  }
}

/** Something wrote under the pending key while abort ran, although the rotation was marked as aborted. */
export class AbortRaceError extends RekeyError {
  constructor(
    readonly late: number,
    readonly left: number,
  ) {
    super(
      `${late} rows were moved to the pending key while abort ran, after the rotation was marked as aborted ` +
        '(a writer that does not check the mark: a rotation function of an older rekey?); they were moved back ' +
        `after AWSPENDING was removed${left > 0 ? `, but ${left} are still under it` : ''}. ` +
        'Make sure no rotation is running, then check with `rekey inventory` (docs/operations.md, "Rows under an unstaged key")',
    );
    this.name = 'AbortRaceError';
  }
}

/** testSecret found rows that the pending version cannot read. */
export class VerificationError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VerificationError';
  }
}

/** A value could not be decrypted or is not in the codec's format. Never carries the value. */
export class DecryptError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DecryptError';
  }
}

/** A single row is larger than the Data API can return or accept. */
export class RowTooLargeError extends RekeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RowTooLargeError';
  }
}

/**
 * A key ring refused to encrypt: its keys are older than its `maxAgeMs` and reloading them failed, so
 * it cannot know which key is AWSCURRENT now (the reader contract, docs/operations.md). Carries the
 * secret id and times only, never a key.
 */
export class StaleKeyRingError extends RekeyError {
  constructor(
    readonly secretId: string,
    /** Epoch ms at which the held keys were last fetched (when that fetch started). */
    readonly loadedAt: number,
    /** How old the held keys were when the ring refused, in ms. */
    readonly ageMs: number,
    readonly maxAgeMs: number,
    options?: { cause?: unknown },
  ) {
    super(
      `key ring for secret ${secretId} refuses to encrypt: its keys were loaded ${ageMs} ms ago, more than ` +
        `maxAgeMs (${maxAgeMs} ms), and it could not reload them; the key it holds as AWSCURRENT may ` +
        'no longer be current',
      options,
    );
    this.name = 'StaleKeyRingError';
  }
}

/**
 * The database (or the Data API in front of it) answered something other than what was asked for: a
 * statement that returns rows came back without them, or an aggregate without its row. rekey stops
 * rather than read such an answer as "no rows", which would let a pass that read nothing pass. Carries
 * what was asked and the names of what came back, never a value.
 */
export class UnexpectedAnswerError extends RekeyError {
  constructor(
    /** What the statement asked for, e.g. "rows as JSON records (formatRecordsAs JSON)". */
    readonly asked: string,
    /** What came back: the answer's field names, or a row count; never values. */
    readonly got: string,
    options?: { cause?: unknown },
  ) {
    super(
      `unexpected database answer: asked for ${asked}, got ${got}. A proxy or an SDK version that does ` +
        'not pass the request or answer fields on, or a database engine other than the configured ' +
        'dataApi.engine, can cause this; rekey stops rather than take it for no rows',
      options,
    );
    this.name = 'UnexpectedAnswerError';
  }
}

/** A live reader of the fleet gate, as its heartbeat row tells it: public key ids and a time, never a key. */
export interface LaggingReader {
  readonly instanceId: string;
  /** The key ids its key rings hold. */
  readonly keyIds: readonly string[];
  /** The key ids it encrypts with (one per key ring). */
  readonly encryptKeyIds: readonly string[];
  /** Its last heartbeat, in the database's time (ISO 8601). */
  readonly lastHeartbeat: string;
}

/**
 * The fleet gate (lambda/fleet-gate.ts) waited as long as it may and some live readers still lag:
 * they do not hold the pending version's keys yet (before a promotion), or still encrypt with a key
 * other than AWSCURRENT's (before a new rotation). Nothing was changed; the service retries the step.
 * Names the readers (instance id, key ids, last heartbeat), never a key or a value.
 */
export class FleetLagError extends RekeyError {
  constructor(
    /** What the step was waiting for every live reader to do, in words. */
    readonly waitedFor: string,
    readonly lagging: readonly LaggingReader[],
    readonly waitedMs: number,
    options?: { cause?: unknown },
  ) {
    const shown = lagging
      .slice(0, FLEET_LAG_SHOWN)
      .map(
        (r) =>
          `${r.instanceId} (holds ${r.keyIds.join(', ') || 'no key ids'}; encrypts with ` +
          `${r.encryptKeyIds.join(', ') || 'no key ids'}; last heartbeat ${r.lastHeartbeat})`,
      );
    const more = lagging.length > FLEET_LAG_SHOWN ? `, and ${lagging.length - FLEET_LAG_SHOWN} more` : '';
    super(
      `${lagging.length} live readers lag after ${waitedMs} ms of waiting until every live reader ${waitedFor}: ` +
        `${shown.join('; ')}${more}. Nothing was changed; the step is retried later. Make those instances ` +
        'reload their key ring (KeyRing.refresh(), or a restart), or stop them; a reader whose last heartbeat ' +
        'is older than fleet.liveWithinMs no longer counts (docs/apps.md, "Fleet gating (key-ring apps)")',
      options,
    );
    this.name = 'FleetLagError';
  }
}

/** How many lagging readers a FleetLagError's message names (all of them are in its `lagging` field). */
const FLEET_LAG_SHOWN = 20;
