import type { Engine } from '../engines/types.js';

/** A piece of a statement: text passed through as is, or a `:name` parameter reference. */
export type SqlPart = { readonly text: string } | { readonly param: string };

/** A statement split around its parameter references. */
export interface ScannedSql {
  readonly parts: readonly SqlPart[];
  /** Whether a second statement follows a `;` (the Data API runs one statement per call). */
  readonly multipleStatements: boolean;
}

const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const IDENT_CHAR = /[A-Za-z0-9_$\u0080-\uffff]/;
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/;

/**
 * Finds the `:name` parameter references of a statement, skipping everything where a colon is not a
 * parameter: string literals (with the dialect's escapes), quoted identifiers, comments, PostgreSQL
 * dollar-quoted bodies and `::` casts.
 */
export function scanSql(sql: string, dialect: Engine): ScannedSql {
  const parts: SqlPart[] = [];
  let textStart = 0;
  let i = 0;
  let afterSemicolon = false;
  let multipleStatements = false;

  const significant = (): void => {
    if (afterSemicolon) multipleStatements = true;
  };
  const skipQuoted = (quote: string, backslashEscapes: boolean): void => {
    i++;
    while (i < sql.length) {
      const c = sql[i];
      if (backslashEscapes && c === '\\') {
        i += 2;
      } else if (c === quote) {
        if (sql[i + 1] === quote) i += 2;
        else {
          i++;
          return;
        }
      } else {
        i++;
      }
    }
  };
  const skipToLineEnd = (): void => {
    while (i < sql.length && sql[i] !== '\n') i++;
  };
  const skipBlockComment = (nested: boolean): void => {
    let depth = 0;
    while (i < sql.length) {
      if (sql.startsWith('/*', i)) {
        depth = nested ? depth + 1 : 1;
        i += 2;
      } else if (sql.startsWith('*/', i)) {
        depth--;
        i += 2;
        if (depth === 0) return;
      } else {
        i++;
      }
    }
  };

  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '-' && next === '-' && (dialect === 'postgres' || /\s/.test(sql[i + 2] ?? ' '))) {
      skipToLineEnd();
    } else if (c === '#' && dialect === 'mysql') {
      skipToLineEnd();
    } else if (c === '/' && next === '*') {
      skipBlockComment(dialect === 'postgres');
    } else if (/\s/.test(c)) {
      i++;
    } else if (c === ';') {
      afterSemicolon = true;
      i++;
    } else {
      significant();
      if (c === "'") {
        skipQuoted("'", dialect === 'mysql' || isEscapeStringStart(sql, i));
      } else if (c === '"') {
        skipQuoted('"', dialect === 'mysql');
      } else if (c === '`' && dialect === 'mysql') {
        skipQuoted('`', false);
      } else if (c === '$' && dialect === 'postgres' && !IDENT_CHAR.test(sql[i - 1] ?? ' ')) {
        const tag = DOLLAR_TAG.exec(sql.slice(i))?.[0];
        if (tag) {
          const end = sql.indexOf(tag, i + tag.length);
          i = end < 0 ? sql.length : end + tag.length;
        } else {
          i++;
        }
      } else if (c === ':' && next === ':') {
        i += 2;
      } else if (c === ':' && next !== undefined && NAME_START.test(next)) {
        let end = i + 2;
        while (end < sql.length && NAME_CHAR.test(sql[end] as string)) end++;
        if (i > textStart) parts.push({ text: sql.slice(textStart, i) });
        parts.push({ param: sql.slice(i + 1, end) });
        i = end;
        textStart = end;
      } else {
        i++;
      }
    }
  }
  if (textStart < sql.length) parts.push({ text: sql.slice(textStart) });
  return { parts, multipleStatements };
}

/** `E'...'` (PostgreSQL's escape string syntax): the quote follows an E that starts a token. */
function isEscapeStringStart(sql: string, quoteAt: number): boolean {
  const e = sql[quoteAt - 1];
  return (e === 'E' || e === 'e') && !IDENT_CHAR.test(sql[quoteAt - 2] ?? ' ');
}

/** The parameter names a scanned statement references, in order of first use. */
export function referencedNames(scanned: ScannedSql): string[] {
  const names: string[] = [];
  for (const part of scanned.parts) {
    if ('param' in part && !names.includes(part.param)) names.push(part.param);
  }
  return names;
}

/**
 * Rebuilds the statement with the dialect's placeholders: PostgreSQL `$n` (one per distinct name,
 * followed by `suffix(name)`, used for type casts), MySQL `?` (one per reference).
 */
export function toPositional<T>(
  scanned: ScannedSql,
  dialect: Engine,
  lookup: (name: string) => T,
  suffix: (name: string) => string = () => '',
): { readonly sql: string; readonly values: T[] } {
  const values: T[] = [];
  const index = new Map<string, number>();
  let sql = '';
  for (const part of scanned.parts) {
    if ('text' in part) {
      sql += part.text;
    } else if (dialect === 'mysql') {
      values.push(lookup(part.param));
      sql += '?';
    } else {
      let n = index.get(part.param);
      if (n === undefined) {
        values.push(lookup(part.param));
        n = values.length;
        index.set(part.param, n);
      }
      sql += `$${n}${suffix(part.param)}`;
    }
  }
  return { sql, values };
}

/**
 * A `:name` statement with its values from a record, as the dialect's placeholders: for runners that
 * talk to a database directly rather than through the Data API.
 * @throws Error when the statement names a parameter the record lacks.
 */
export function bindNamed<T>(
  sql: string,
  dialect: Engine,
  params: Readonly<Record<string, T>>,
): { readonly sql: string; readonly values: T[] } {
  return toPositional(scanSql(sql, dialect), dialect, (name) => {
    const value = params[name];
    if (value === undefined) throw new Error(`no value for parameter :${name}`);
    return value;
  });
}
