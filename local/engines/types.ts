/**
 * What the local Data API needs from a database: run a statement with positional parameters, either
 * on its own (autocommit) or inside a transaction that holds one connection.
 */

import type { Engine } from '../../lambda/index.js';

/** The engine a database speaks decides placeholders, quoting rules and parameter casts. */
export type { Engine };

/** A value as an engine hands it back, before it becomes a Data API Field. */
export type CellValue = null | string | number | bigint | boolean | Uint8Array | readonly CellValue[];

/** A value bound to a positional placeholder. */
export type BoundValue = string | number | boolean | Uint8Array | null;

/** Which Field member a column's values travel in. */
export type ValueKind = 'long' | 'double' | 'decimal' | 'boolean' | 'blob' | 'string' | 'array';

/** A result column, with the metadata the Data API returns in `columnMetadata`. */
export interface ColumnInfo {
  readonly name: string;
  readonly label: string;
  readonly typeName: string;
  /** The JDBC type code (java.sql.Types), as the service reports it. */
  readonly jdbcType: number;
  readonly kind: ValueKind;
  /** For arrays: the kind of the innermost elements. */
  readonly elementKind?: Exclude<ValueKind, 'array'>;
  readonly arrayBaseColumnType: number;
  readonly schemaName: string;
  readonly tableName: string;
  readonly isSigned: boolean;
  readonly isCaseSensitive: boolean;
  readonly isAutoIncrement: boolean;
  readonly isCurrency: boolean;
  /** 0 no nulls, 1 nullable, 2 unknown (JDBC's columnNoNulls / columnNullable / columnNullableUnknown). */
  readonly nullable: number;
  readonly precision: number;
  readonly scale: number;
}

/** The outcome of one statement. */
export interface EngineResult {
  /** Whether the statement produced a result set (SELECT, RETURNING), even an empty one. */
  readonly hasResultSet: boolean;
  readonly columns: readonly ColumnInfo[];
  readonly rows: readonly (readonly CellValue[])[];
  /** Rows inserted, updated or deleted; 0 for queries. */
  readonly updated: number;
  /** MySQL's auto-increment id of an insert, when there is one. */
  readonly generatedId?: number | bigint;
}

/** Something statements run on: the engine itself (autocommit) or an open transaction. */
export interface EngineSession {
  /**
   * Runs one statement whose placeholders are already in the dialect's form (`$1` or `?`).
   * @throws SqlError when the database refuses the statement.
   */
  query(sql: string, params: readonly BoundValue[]): Promise<EngineResult>;
}

/** A transaction holding one connection until it is committed or rolled back. */
export interface EngineTransaction extends EngineSession {
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

/** A database behind the local Data API. */
export interface Database extends EngineSession {
  readonly dialect: Engine;
  /** A short description for logs and the CLI (never includes a password). */
  readonly description: string;
  begin(): Promise<EngineTransaction>;
  close(): Promise<void>;
}

/** An error the database reported for a statement; its message is what the Data API passes back. */
export class SqlError extends Error {
  override readonly name = 'SqlError';
  /** SQLSTATE, when the driver reports one. */
  readonly sqlState: string | undefined;

  constructor(message: string, sqlState: string | undefined, options?: { cause?: unknown }) {
    super(message, options);
    this.sqlState = sqlState;
  }
}
