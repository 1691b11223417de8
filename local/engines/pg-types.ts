import { type PgArrayElement, parsePgArray } from './pg-array.js';
import type { CellValue, ColumnInfo, ValueKind } from './types.js';

/** A row of pg_type: enough to name a column's type and find an array's element type. */
export interface PgTypeRow {
  readonly oid: number;
  readonly typname: string;
  readonly typelem: number;
  readonly typcategory: string;
}

/** The query that loads the catalog; both PostgreSQL engines run it at start and on unknown types. */
export const PG_TYPE_QUERY =
  'SELECT oid::int4 AS oid, typname::text AS typname, typelem::int4 AS typelem, typcategory::text AS typcategory FROM pg_type';

interface BaseType {
  readonly kind: Exclude<ValueKind, 'array'>;
  readonly jdbcType: number;
  readonly precision: number;
  readonly scale: number;
  readonly signed: boolean;
  readonly caseSensitive: boolean;
}

const TEXT_LIKE: BaseType = {
  kind: 'string',
  jdbcType: 12,
  precision: 2147483647,
  scale: 0,
  signed: false,
  caseSensitive: true,
};

// JDBC codes as the PostgreSQL JDBC driver (which the Data API runs on) reports them.
const BASE_TYPES: Readonly<Record<string, BaseType>> = {
  bool: { kind: 'boolean', jdbcType: -7, precision: 1, scale: 0, signed: false, caseSensitive: false },
  int2: { kind: 'long', jdbcType: 5, precision: 5, scale: 0, signed: true, caseSensitive: false },
  int4: { kind: 'long', jdbcType: 4, precision: 10, scale: 0, signed: true, caseSensitive: false },
  int8: { kind: 'long', jdbcType: -5, precision: 19, scale: 0, signed: true, caseSensitive: false },
  oid: { kind: 'long', jdbcType: -5, precision: 10, scale: 0, signed: false, caseSensitive: false },
  float4: { kind: 'double', jdbcType: 7, precision: 8, scale: 8, signed: true, caseSensitive: false },
  float8: { kind: 'double', jdbcType: 8, precision: 17, scale: 17, signed: true, caseSensitive: false },
  numeric: { kind: 'decimal', jdbcType: 2, precision: 0, scale: 0, signed: true, caseSensitive: false },
  money: { kind: 'string', jdbcType: 8, precision: 0, scale: 0, signed: true, caseSensitive: false },
  bytea: { kind: 'blob', jdbcType: -2, precision: 2147483647, scale: 0, signed: false, caseSensitive: false },
  text: TEXT_LIKE,
  varchar: TEXT_LIKE,
  name: TEXT_LIKE,
  bpchar: { ...TEXT_LIKE, jdbcType: 1 },
  char: { ...TEXT_LIKE, jdbcType: 1 },
  date: { kind: 'string', jdbcType: 91, precision: 13, scale: 0, signed: false, caseSensitive: false },
  time: { kind: 'string', jdbcType: 92, precision: 15, scale: 6, signed: false, caseSensitive: false },
  timetz: { kind: 'string', jdbcType: 92, precision: 21, scale: 6, signed: false, caseSensitive: false },
  timestamp: { kind: 'string', jdbcType: 93, precision: 29, scale: 6, signed: false, caseSensitive: false },
  timestamptz: { kind: 'string', jdbcType: 93, precision: 35, scale: 6, signed: false, caseSensitive: false },
};

const OTHER: BaseType = { ...TEXT_LIKE, jdbcType: 1111 };
const JDBC_ARRAY = 2003;

/** Names PostgreSQL types by oid and turns their text output into Data API cell values. */
export class PgTypeCatalog {
  private readonly byOid = new Map<number, PgTypeRow>();

  constructor(rows: readonly PgTypeRow[]) {
    for (const row of rows) this.byOid.set(row.oid, row);
  }

  /** Whether every oid is known (so a caller can reload the catalog after a CREATE TYPE). */
  knows(oids: readonly number[]): boolean {
    return oids.every((oid) => this.byOid.has(oid));
  }

  /** Column metadata for a result column of the given type. */
  column(name: string, oid: number): ColumnInfo {
    const row = this.byOid.get(oid);
    const element =
      row && row.typcategory === 'A' && row.typelem !== 0 ? this.byOid.get(row.typelem) : undefined;
    const base = element ? this.base(element) : this.base(row);
    return {
      name,
      label: name,
      typeName: row ? (element ? `_${element.typname}` : row.typname) : 'unknown',
      jdbcType: element ? JDBC_ARRAY : base.jdbcType,
      kind: element ? 'array' : base.kind,
      ...(element ? { elementKind: base.kind } : {}),
      arrayBaseColumnType: element ? base.jdbcType : 0,
      schemaName: '',
      tableName: '',
      isSigned: base.signed,
      isCaseSensitive: base.caseSensitive,
      isAutoIncrement: false,
      isCurrency: row?.typname === 'money',
      nullable: 2,
      precision: element ? 0 : base.precision,
      scale: element ? 0 : base.scale,
    };
  }

  /** Converts PostgreSQL's text output of a value of this type to a cell. */
  cell(text: string | null, oid: number): CellValue {
    if (text === null) return null;
    const row = this.byOid.get(oid);
    if (row && row.typcategory === 'A' && row.typelem !== 0) {
      const element = this.byOid.get(row.typelem);
      const convert = (e: PgArrayElement): CellValue =>
        e === null ? null : typeof e === 'string' ? fromText(e, element?.typname ?? '') : e.map(convert);
      return parsePgArray(text).map(convert);
    }
    return fromText(text, row?.typname ?? '');
  }

  private base(row: PgTypeRow | undefined): BaseType {
    if (!row) return OTHER;
    return BASE_TYPES[row.typname] ?? OTHER;
  }
}

function fromText(text: string, typname: string): CellValue {
  switch (typname) {
    case 'bool':
      return text === 't' || text === 'true';
    case 'int2':
    case 'int4':
    case 'int8':
    case 'oid': {
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : BigInt(text);
    }
    case 'float4':
    case 'float8':
      return Number(text);
    case 'bytea':
      return decodeBytea(text);
    case 'timestamptz':
      // The session runs in UTC; the Data API shows UTC timestamps without an offset.
      return text.replace(/[+-]\d\d(:\d\d)?$/, '');
    default:
      return text;
  }
}

function decodeBytea(text: string): Uint8Array {
  if (text.startsWith('\\x')) return new Uint8Array(Buffer.from(text.slice(2), 'hex'));
  // Escape format (bytea_output = escape): octal escapes and doubled backslashes.
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && text[i + 1] === '\\') {
      bytes.push(0x5c);
      i++;
    } else if (text[i] === '\\') {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(text.charCodeAt(i));
    }
  }
  return new Uint8Array(bytes);
}

/** Formats a PostgreSQL error the way the Data API passes it on (the JDBC driver's wording). */
export function pgErrorMessage(error: {
  message: string;
  code?: string;
  position?: string | number;
}): string {
  const position = error.position ? `\n  Position: ${error.position}` : '';
  return `ERROR: ${error.message}${position}; SQLState: ${error.code ?? 'unknown'}`;
}

/** Statement kinds whose row count is the number of records updated. */
export const UPDATING_COMMANDS: ReadonlySet<string> = new Set(['INSERT', 'UPDATE', 'DELETE', 'MERGE']);
