import { codecFor, dataKeyFromSecretString } from './codecs/index.js';
import type { Codec, DataKey } from './codecs/types.js';
import { type RekeyConfig, type StoredTable, tableCodec } from './config.js';

/**
 * Secret values (whole SecretStrings, secret: never log them) by role in a pass: values are rewritten
 * from any `sources` version to the `target` version.
 */
export interface KeyVersions {
  readonly target: string;
  readonly sources: readonly string[];
}

/** The codec and keys a table is read and written with in a pass. */
export interface TableKeys {
  readonly codec: Codec;
  readonly target: DataKey;
  /** Without duplicates, and without the target's key (two versions may hold the same key). */
  readonly sources: readonly DataKey[];
  /** The target's key, then the sources': what a value is classified against, built once per pass. */
  readonly all: readonly DataKey[];
}

/**
 * Derives a table's keys from the versions' values, with the table's own codec and data key field.
 * @throws SecretFormatError when a version's data key field is not usable (names the field only).
 */
export function tableKeys(config: RekeyConfig, table: StoredTable, versions: KeyVersions): TableKeys {
  const { codec, dataKeyField } = tableCodec(config, table);
  const target = dataKeyFromSecretString(versions.target, dataKeyField, codec);
  const sources: DataKey[] = [];
  for (const value of versions.sources) {
    const key = dataKeyFromSecretString(value, dataKeyField, codec);
    if (key.kid !== target.kid && !sources.some((k) => k.kid === key.kid)) sources.push(key);
  }
  return { codec: codecFor(codec), target, sources, all: [target, ...sources] };
}
