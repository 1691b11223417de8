import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { DecryptError, SecretFormatError } from '../errors.js';
import { keyIdOf } from './key-id.js';
import type { Classification, Codec, DataKey, FieldContext } from './types.js';

const PREFIX = 'rk1:';
const KID_LENGTH = 8;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
// 32 bytes are exactly 43 characters and one '=' in standard base64.
const STANDARD_BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;

/**
 * rk1: `rk1:<kid>:<base64url(nonce12 | ciphertext | tag16)>`, AES-256-GCM with a random 96-bit nonce and
 * AAD `rk1:<kid>:<table>.<column>`, which binds the value to its key id and to where it is stored.
 * Specified byte by byte in docs/ciphertext.md.
 */
export const rk1: Codec = {
  name: 'rk1',
  formatPrefix: PREFIX,

  deriveKey(fieldValue: string): DataKey {
    // Surrounding whitespace is forgiven (a key pasted with a newline); anything else must be the
    // canonical encoding, so one key has one spelling.
    const text = fieldValue.trim();
    const material = Buffer.from(text, 'base64');
    if (
      !STANDARD_BASE64_KEY.test(text) ||
      material.length !== KEY_BYTES ||
      material.toString('base64') !== text
    ) {
      throw new SecretFormatError('the rk1 data key must be 32 bytes in standard base64 (44 characters)');
    }
    return { kid: keyIdOf(material), material };
  },

  encrypt(plaintext: Uint8Array, key: DataKey, where: FieldContext): string {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key.material, nonce);
    cipher.setAAD(aad(key.kid, where));
    const body = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return `${PREFIX}${key.kid}:${body.toString('base64url')}`;
  },

  decrypt(value: string, key: DataKey, where: FieldContext): Uint8Array {
    const at = `${where.table}.${where.column}`;
    const parts = parse(value);
    if (!parts) throw new DecryptError(`value in ${at} is not an rk1 value`);
    // Key ids are public (one-way), so naming them helps without revealing anything.
    if (parts.kid !== key.kid)
      throw new DecryptError(`value in ${at} is under key id ${parts.kid}, not ${key.kid}`);
    const plaintext = open(parts.body, key, where);
    if (!plaintext) throw new DecryptError(`value in ${at} fails authentication under key id ${key.kid}`);
    return plaintext;
  },

  /**
   * A value that does not start with `rk1:` is plaintext. One that does but is malformed (truncated,
   * not base64url) is unknown: it was meant to be ciphertext. A well-formed value is under the key
   * whose kid it carries only if that key also opens it (GCM tag and AAD); otherwise it is unknown,
   * with its kid, so a corrupted or moved value is never counted as done.
   */
  classify(value: string, keys: readonly DataKey[], where: FieldContext): Classification {
    const parts = parse(value);
    if (!parts) return value.startsWith(PREFIX) ? { kind: 'unknown' } : { kind: 'plaintext' };
    const key = keys.find((k) => k.kid === parts.kid);
    const opened = key && open(parts.body, key, where);
    if (!key || !opened) return { kind: 'unknown', kid: parts.kid };
    return { kind: 'key', key, opened };
  },

  sqlPrefix(key: DataKey): string {
    return `${PREFIX}${key.kid}:`;
  },
};

/**
 * The key id a well-formed rk1 value carries, or `undefined` when the value is not one; lets a reader
 * pick the key from a map in O(1) before decrypting once.
 */
export function rk1KeyIdOf(value: string): string | undefined {
  return parse(value)?.kid;
}

function parse(value: string): { kid: string; body: Buffer } | undefined {
  if (!value.startsWith(PREFIX) || value.charAt(PREFIX.length + KID_LENGTH) !== ':') return undefined;
  const kid = value.slice(PREFIX.length, PREFIX.length + KID_LENGTH);
  const text = value.slice(PREFIX.length + KID_LENGTH + 1);
  if (!BASE64URL.test(kid) || !BASE64URL.test(text)) return undefined;
  const body = Buffer.from(text, 'base64url');
  // Node's decoder ignores stray trailing bits; requiring the canonical spelling gives every value
  // exactly one text form, which the SQL prefix and equality checks rely on.
  if (body.length < NONCE_BYTES + TAG_BYTES || body.toString('base64url') !== text) return undefined;
  return { kid, body };
}

/** The plaintext, or `undefined` when the tag does not verify under this key and place. */
function open(body: Buffer, key: DataKey, where: FieldContext): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.material, body.subarray(0, NONCE_BYTES));
    decipher.setAAD(aad(key.kid, where));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    return Buffer.concat([
      decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    // node:crypto's message says only that authentication failed; nothing to keep.
    return undefined;
  }
}

function aad(kid: string, where: FieldContext): Buffer {
  return Buffer.from(`${PREFIX}${kid}:${where.table}.${where.column}`, 'utf8');
}
