import type { CodecName } from '../config.js';

/**
 * A data key taken from one version of the secret. `material` is secret: never log it, never put it
 * in an error. `kid` is a short public id derived from the material (two versions holding the same key
 * share it).
 */
export interface DataKey {
  readonly kid: string;
  readonly material: Uint8Array;
}

/** Where a value is stored; rk1 binds its ciphertext to it (AAD). */
export interface FieldContext {
  readonly table: string;
  readonly column: string;
}

/** How a stored value relates to a set of keys. */
export type Classification =
  | {
      readonly kind: 'key';
      readonly key: DataKey;
      /** The opened value, when telling the key meant decrypting (rk1's GCM tag); secret, never log it. */
      readonly opened?: Uint8Array;
    }
  | { readonly kind: 'plaintext' }
  | { readonly kind: 'unknown'; readonly kid?: string };

/** A ciphertext format. Implementations never include key material or plaintext in errors. */
export interface Codec {
  readonly name: CodecName;
  /**
   * Turns the data-key field of a secret version into key material.
   * @throws SecretFormatError when the field is not usable as this codec's key (the message names no value).
   */
  deriveKey(fieldValue: string): DataKey;
  encrypt(plaintext: Uint8Array, key: DataKey, where: FieldContext): string;
  /** @throws DecryptError when the value is not in the format or the key does not open it. */
  decrypt(value: string, key: DataKey, where: FieldContext): Uint8Array;
  /** Which of `keys` wrote the value; 'plaintext' when it is not in the codec's format at all. */
  classify(value: string, keys: readonly DataKey[], where: FieldContext): Classification;
  /**
   * For a format with the key id in clear text: the prefix every value under `key` starts with, so SQL
   * can select only the rows that need work. `undefined` for formats without one (Fernet).
   */
  sqlPrefix(key: DataKey): string | undefined;
  /** The prefix every value of this format starts with (`rk1:`), if any, for SQL inventory queries. */
  readonly formatPrefix: string | undefined;
}
