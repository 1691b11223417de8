import type { CensusTotal } from '../../lambda/index.js';
import { table } from './format.js';

/** A staged version's keys as plan and inventory show them: label, key ids and version, no key. */
interface StagedKeys {
  readonly label: string;
  readonly keyIds: readonly string[];
  readonly versionId: string;
}

/** The staged versions' key ids, one line each, or a line saying there is none yet. */
export function keyLines(keys: readonly StagedKeys[]): string[] {
  if (keys.length === 0) return ['  no staged version has a value yet'];
  return keys.map((k) => `  ${k.label.padEnd(8)}  key ${k.keyIds.join(', ')}  version ${k.versionId}`);
}

/**
 * Rows by key version: a line per column and the total. The codec column only earns its place when
 * tables use different formats.
 */
export function keyVersionTable(
  columns: readonly (CensusTotal & {
    readonly table: string;
    readonly column: string;
    readonly codec: string;
  })[],
  total: CensusTotal,
): string {
  const mixed = new Set(columns.map((c) => c.codec)).size > 1;
  const row = (name: string, codec: string, c: CensusTotal) => [
    name,
    ...(mixed ? [codec] : []),
    ...[c.rows, c.current, c.pending, c.previous, c.unknown, c.plaintext, c.nulls].map(String),
  ];
  return table(
    [
      'COLUMN',
      ...(mixed ? ['CODEC'] : []),
      'ROWS',
      'CURRENT',
      'PENDING',
      'PREVIOUS',
      'UNKNOWN',
      'PLAINTEXT',
      'NULL',
    ],
    [...columns.map((c) => row(`${c.table}.${c.column}`, c.codec, c)), row('total', '', total)],
  );
}
