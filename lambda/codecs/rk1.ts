import { createCipheriv, createDecipheriv } from 'node:crypto';
import { DecryptError, SecretFormatError } from '../errors.js';
import { keyIdOf } from './key-id.js';
import { fillRandom } from './random-pool.js';
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
    // One buffer for the whole body, the nonce drawn straight into it: no concatenation per value.
    const body = Buffer.allocUnsafe(NONCE_BYTES + plaintext.length + TAG_BYTES);
    const nonce = body.subarray(0, NONCE_BYTES);
    fillRandom(nonce);
    const cipher = createCipheriv('aes-256-gcm', key.material, nonce);
    cipher.setAAD(aad(key.kid, where));
    // GCM is a stream mode: update returns every ciphertext byte and final none. Checked anyway: the
    // body is uninitialised memory, and none of it may leave unwritten.
    let end = NONCE_BYTES + cipher.update(plaintext).copy(body, NONCE_BYTES);
    end += cipher.final().copy(body, end);
    if (end !== NONCE_BYTES + plaintext.length)
      throw new Error('AES-GCM returned a ciphertext of another length');
    cipher.getAuthTag().copy(body, body.length - TAG_BYTES);
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
  // Node's decoder ignores stray trailing bits; requiring the canonical spelling gives every value
  // exactly one text form, which the SQL prefix and equality checks rely on.
  if (!isCanonicalBase64url(text)) return undefined;
  const body = Buffer.from(text, 'base64url');
  if (body.length < NONCE_BYTES + TAG_BYTES) return undefined;
  return { kid, body };
}

/**
 * Whether unpadded base64url text (alphabet already checked) is the one spelling of its bytes, as
 * re-encoding would tell but without building the string: a length of 1 mod 4 holds a stray
 * character, and the last character of a partial group must carry no bits past the bytes (the low 4
 * bits after one byte, the low 2 after two).
 */
function isCanonicalBase64url(text: string): boolean {
  const rest = text.length % 4;
  if (rest === 0) return true;
  if (rest === 1) return false;
  const last = sextet(text.charCodeAt(text.length - 1));
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/** The 6-bit value of a base64url character (the alphabet is checked before). */
function sextet(code: number): number {
  if (code >= 65 && code <= 90) return code - 65; // A-Z
  if (code >= 97 && code <= 122) return code - 71; // a-z
  if (code >= 48 && code <= 57) return code + 4; // 0-9
  return code === 45 ? 62 : 63; // '-', '_'
}

/** The plaintext, or `undefined` when the tag does not verify under this key and place. */
function open(body: Buffer, key: DataKey, where: FieldContext): Buffer | undefined {
  try {
    const decipher = createDecipheriv('aes-256-gcm', key.material, body.subarray(0, NONCE_BYTES));
    decipher.setAAD(aad(key.kid, where));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    const plaintext = decipher.update(body.subarray(NONCE_BYTES, body.length - TAG_BYTES));
    // GCM's final returns no bytes; it is where the tag is checked (it throws when it fails).
    decipher.final();
    return plaintext;
  } catch {
    // node:crypto's message says only that authentication failed; nothing to keep.
    return undefined;
  }
}

/**
 * The AAD bytes of the last few key ids and places: a rotation opens under one key and seals under
 * another, row after row of the same column, so a short list compared field by field (the same string
 * instances, so each compare is one pointer check) saves building and encoding the text per value.
 */
const AAD_CACHE_SIZE = 8;
const aadCache: { kid: string; table: string; column: string; bytes: Buffer }[] = [];
let aadCacheNext = 0;

function aad(kid: string, where: FieldContext): Buffer {
  for (const entry of aadCache)
    if (entry.kid === kid && entry.table === where.table && entry.column === where.column) return entry.bytes;
  const bytes = Buffer.from(`${PREFIX}${kid}:${where.table}.${where.column}`, 'utf8');
  aadCache[aadCacheNext] = { kid, table: where.table, column: where.column, bytes };
  aadCacheNext = (aadCacheNext + 1) % AAD_CACHE_SIZE;
  return bytes;
}
