import type { BoundValue, CellValue, ColumnInfo, Engine, ValueKind } from '../engines/types.js';
import { badRequest } from './errors.js';

/** A Field as it arrives on the wire (a union: exactly one member is set). */
export interface FieldInput {
  readonly isNull?: boolean | undefined;
  readonly booleanValue?: boolean | undefined;
  readonly longValue?: number | undefined;
  readonly doubleValue?: number | undefined;
  readonly stringValue?: string | undefined;
  readonly blobValue?: string | undefined;
  readonly arrayValue?: unknown;
}

/** The type hints the service accepts on string parameters. */
export const TYPE_HINTS = ['DATE', 'DECIMAL', 'JSON', 'TIME', 'TIMESTAMP', 'UUID'] as const;
/** One type hint. */
export type TypeHint = (typeof TYPE_HINTS)[number];

/** A parameter ready to bind, with the PostgreSQL type it is sent as. */
export interface BoundParameter {
  readonly value: BoundValue;
  /** The cast that gives the placeholder the type the JDBC driver would send; none for NULL. */
  readonly pgType?: string;
}

const HINT_TYPES: Readonly<Record<TypeHint, string>> = {
  DATE: 'date',
  DECIMAL: 'numeric',
  JSON: 'json',
  TIME: 'time',
  TIMESTAMP: 'timestamp',
  UUID: 'uuid',
};

/**
 * Turns a wire Field into a bound value. On PostgreSQL each value keeps the type the service's JDBC
 * driver gives it (a string is a varchar unless hinted, a long an int8), so a statement that would
 * fail on the service for a type mismatch fails here too.
 * @throws DataApiError (BadRequestException) for an empty or multi-member Field, an array, bad base64.
 */
export function bindField(
  name: string,
  field: FieldInput | undefined,
  typeHint: TypeHint | undefined,
): BoundParameter {
  const members = field ? Object.entries(field).filter(([, v]) => v !== undefined) : [];
  if (members.length !== 1) {
    throw badRequest(`Parameter ${name} must have exactly one value member, got ${members.length}`);
  }
  const f = field as FieldInput;
  if (f.arrayValue !== undefined) throw badRequest('Array parameters are not supported.');
  if (f.isNull !== undefined) return { value: null };
  if (f.booleanValue !== undefined) return { value: f.booleanValue, pgType: 'bool' };
  if (f.longValue !== undefined) return { value: f.longValue, pgType: 'int8' };
  if (f.doubleValue !== undefined) return { value: f.doubleValue, pgType: 'float8' };
  if (f.blobValue !== undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(f.blobValue) || f.blobValue.length % 4 !== 0) {
      throw badRequest(`Parameter ${name} has a blobValue that is not valid base64`);
    }
    return { value: new Uint8Array(Buffer.from(f.blobValue, 'base64')), pgType: 'bytea' };
  }
  return { value: f.stringValue ?? '', pgType: typeHint ? HINT_TYPES[typeHint] : 'varchar' };
}

/** How DECIMAL and BIGINT values come back (ExecuteStatement's resultSetOptions). */
export interface ReturnTypes {
  readonly decimalReturnType: 'STRING' | 'DOUBLE_OR_LONG';
  readonly longReturnType: 'STRING' | 'LONG';
}

/** A Field as the service answers it. */
export type FieldOutput =
  | { readonly isNull: true }
  | { readonly longValue: number }
  | { readonly doubleValue: number }
  | { readonly stringValue: string }
  | { readonly booleanValue: boolean }
  | { readonly blobValue: string }
  | { readonly arrayValue: ArrayValueOutput };

/** An ArrayValue as the service answers it. */
export type ArrayValueOutput =
  | { readonly longValues: (number | null)[] }
  | { readonly doubleValues: (number | null)[] }
  | { readonly stringValues: (string | null)[] }
  | { readonly booleanValues: (boolean | null)[] }
  | { readonly arrayValues: ArrayValueOutput[] };

/** Converts a cell to the Field the service would answer for a column of this type. */
export function toField(cell: CellValue, column: ColumnInfo, types: ReturnTypes): FieldOutput {
  if (cell === null) return { isNull: true };
  if (Array.isArray(cell)) return { arrayValue: toArrayValue(cell, column.elementKind ?? 'string') };
  if (cell instanceof Uint8Array) return { blobValue: Buffer.from(cell).toString('base64') };
  if (typeof cell === 'boolean') return { booleanValue: cell };
  if (typeof cell === 'bigint') {
    return types.longReturnType === 'STRING' ? { stringValue: cell.toString() } : { longValue: Number(cell) };
  }
  if (typeof cell === 'number') {
    if (column.kind === 'long') {
      return types.longReturnType === 'STRING' ? { stringValue: String(cell) } : { longValue: cell };
    }
    return { doubleValue: cell };
  }
  if (column.kind === 'decimal' && types.decimalReturnType === 'DOUBLE_OR_LONG') {
    const n = Number(cell);
    return Number.isSafeInteger(n) && !cell.includes('.') ? { longValue: n } : { doubleValue: n };
  }
  return { stringValue: String(cell) };
}

function toArrayValue(items: readonly CellValue[], kind: Exclude<ValueKind, 'array'>): ArrayValueOutput {
  if (items.some((item) => Array.isArray(item))) {
    return { arrayValues: items.map((item) => toArrayValue(Array.isArray(item) ? item : [item], kind)) };
  }
  const scalar = items as readonly Exclude<CellValue, readonly CellValue[]>[];
  switch (kind) {
    case 'long':
      return { longValues: scalar.map((v) => (v === null ? null : Number(v))) };
    case 'double':
      return { doubleValues: scalar.map((v) => (v === null ? null : Number(v))) };
    case 'boolean':
      return { booleanValues: scalar.map((v) => (v === null ? null : Boolean(v))) };
    default:
      return { stringValues: scalar.map((v) => (v === null ? null : cellText(v))) };
  }
}

function cellText(v: string | number | bigint | boolean | Uint8Array): string {
  return v instanceof Uint8Array ? Buffer.from(v).toString('base64') : String(v);
}

/** A cell as a value in `formattedRecords` (formatRecordsAs JSON). */
export function toJsonValue(cell: CellValue, column: ColumnInfo, types: ReturnTypes): unknown {
  if (cell === null) return null;
  if (Array.isArray(cell))
    return cell.map((item) => toJsonValue(item, { ...column, kind: column.elementKind ?? 'string' }, types));
  const field = toField(cell, column, types);
  if ('longValue' in field) return field.longValue;
  if ('doubleValue' in field) return field.doubleValue;
  if ('booleanValue' in field) return field.booleanValue;
  if ('blobValue' in field) return field.blobValue;
  if ('stringValue' in field) return field.stringValue;
  return null;
}

/** The columnMetadata entry for a column. */
export function columnMetadata(column: ColumnInfo): Record<string, unknown> {
  return {
    name: column.name,
    type: column.jdbcType,
    typeName: column.typeName,
    label: column.label,
    schemaName: column.schemaName,
    tableName: column.tableName,
    isAutoIncrement: column.isAutoIncrement,
    isSigned: column.isSigned,
    isCurrency: column.isCurrency,
    isCaseSensitive: column.isCaseSensitive,
    nullable: column.nullable,
    precision: column.precision,
    scale: column.scale,
    arrayBaseColumnType: column.arrayBaseColumnType,
  };
}

/** The size a row takes as the database returns it, which the service's 64 KB row limit counts. */
export function rowBytes(row: readonly CellValue[]): number {
  let size = 0;
  for (const cell of row) size += cellBytes(cell);
  return size;
}

function cellBytes(cell: CellValue): number {
  if (cell === null) return 0;
  if (Array.isArray(cell)) return cell.reduce<number>((sum, item) => sum + cellBytes(item), 0);
  if (cell instanceof Uint8Array) return cell.byteLength;
  if (typeof cell === 'string') return Buffer.byteLength(cell);
  if (typeof cell === 'boolean') return 1;
  return 8;
}

/** Whether a dialect gives placeholders explicit types (PostgreSQL) or lets the server convert (MySQL). */
export function castsParameters(dialect: Engine): boolean {
  return dialect === 'postgres';
}
