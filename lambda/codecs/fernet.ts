import { createCipheriv, createDecipheriv, createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { CodecName } from '../config.js';
import { DecryptError, SecretFormatError } from '../errors.js';
import { keyIdOf } from './key-id.js';
import { fillRandom } from './random-pool.js';
import type { Classification, Codec, DataKey } from './types.js';

// Fernet on node:crypto: there is no well-kept npm Fernet package, and the spec is a page long.
const VERSION = 0x80;
const KEY_BYTES = 32;
const IV_BYTES = 16;
const HEADER = 1 + 8 + IV_BYTES; // version, timestamp, IV
const HMAC_BYTES = 32;
const BLOCK = 16;
// As Python's cryptography: with a TTL, a token more than a minute in the future is refused too.
const MAX_CLOCK_SKEW_S = 60;
const URLSAFE = /^[A-Za-z0-9_-]+={0,2}$/;

/** Options of the low-level Fernet functions; the spec's vectors fix the IV and the clock. */
export interface FernetOptions {
  /** Seconds since the epoch; defaults to now. */
  readonly now?: number;
  /** The 16-byte IV; random unless a test vector fixes it. */
  readonly iv?: Uint8Array;
  /** When set, tokens older than this many seconds (or from more than a minute ahead) are refused. */
  readonly ttlSec?: number;
}

/**
 * The Fernet token of `plaintext` under a 32-byte key (signing key first, encryption key second),
 * URL-safe base64 with padding as Python writes it.
 * @throws SecretFormatError when the key is not 32 bytes or the IV not 16.
 */
export function fernetEncrypt(plaintext: Uint8Array, key: Uint8Array, options: FernetOptions = {}): string {
  checkKey(key);
  const iv = options.iv ?? randomIv();
  if (iv.length !== IV_BYTES) throw new SecretFormatError('a Fernet IV must be 16 bytes');
  const header = Buffer.alloc(9);
  header.writeUInt8(VERSION, 0);
  header.writeBigUInt64BE(BigInt(Math.floor(options.now ?? Date.now() / 1000)), 1);
  const cipher = createCipheriv('aes-128-cbc', key.subarray(16, 32), iv);
  const signed = Buffer.concat([header, iv, cipher.update(plaintext), cipher.final()]);
  const mac = createHmac('sha256', key.subarray(0, 16)).update(signed).digest();
  return Buffer.concat([signed, mac]).toString('base64').replaceAll('+', '-').replaceAll('/', '_');
}

function randomIv(): Buffer {
  const iv = Buffer.allocUnsafe(IV_BYTES);
  fillRandom(iv);
  return iv;
}

/**
 * Verifies and decrypts a Fernet token as the spec says: encoding, version, length, HMAC (constant
 * time), the TTL and clock skew when a TTL is given, then block size and padding. Tokens with or
 * without base64 padding are accepted. Stored data is read without `ttlSec`.
 * @throws DecryptError naming what failed, never the token, the key or the plaintext.
 */
export function fernetDecrypt(token: string, key: Uint8Array, options: FernetOptions = {}): Uint8Array {
  checkKey(key);
  const raw = decodeToken(token);
  if (!raw) throw new DecryptError('not a Fernet token');
  if (!macMatches(raw, key)) throw new DecryptError('Fernet token signature does not verify');
  if (options.ttlSec !== undefined) {
    // BigInt: a timestamp signed far in the future can exceed 2^53.
    const now = BigInt(Math.floor(options.now ?? Date.now() / 1000));
    const timestamp = raw.readBigUInt64BE(1);
    if (timestamp + BigInt(Math.floor(options.ttlSec)) < now)
      throw new DecryptError('Fernet token has expired');
    if (timestamp > now + BigInt(MAX_CLOCK_SKEW_S)) throw new DecryptError('Fernet token is from the future');
  }
  try {
    const decipher = createDecipheriv('aes-128-cbc', key.subarray(16, 32), raw.subarray(9, HEADER));
    return Buffer.concat([decipher.update(raw.subarray(HEADER, raw.length - HMAC_BYTES)), decipher.final()]);
  } catch {
    throw new DecryptError('Fernet token padding is invalid');
  }
}

/** The token's bytes when it has a Fernet token's shape (nothing verified yet), else `undefined`. */
function decodeToken(token: string): Buffer | undefined {
  if (!URLSAFE.test(token)) return undefined;
  const unpadded = token.replace(/=+$/, '');
  // Padding, when present, must be complete; a lone trailing character is never valid base64.
  if (unpadded.length % 4 === 1 || (unpadded.length !== token.length && token.length % 4 !== 0))
    return undefined;
  const raw = Buffer.from(unpadded, 'base64url');
  const body = raw.length - HEADER - HMAC_BYTES;
  if (raw[0] !== VERSION || body < BLOCK || body % BLOCK !== 0) return undefined;
  return raw;
}

function macMatches(raw: Buffer, key: Uint8Array): boolean {
  const expected = createHmac('sha256', key.subarray(0, 16))
    .update(raw.subarray(0, raw.length - HMAC_BYTES))
    .digest();
  return timingSafeEqual(expected, raw.subarray(raw.length - HMAC_BYTES));
}

function checkKey(key: Uint8Array): void {
  if (key.length !== KEY_BYTES) throw new SecretFormatError('a Fernet key must be 32 bytes');
}

function fernetCodec(name: CodecName, toMaterial: (fieldValue: string) => Buffer): Codec {
  return {
    name,
    formatPrefix: undefined,
    deriveKey(fieldValue: string): DataKey {
      const material = toMaterial(fieldValue);
      return { kid: keyIdOf(material), material };
    },
    // Fernet has no associated data: `where` cannot be bound, so it is only used in messages.
    encrypt: (plaintext, key) => fernetEncrypt(plaintext, key.material),
    decrypt(value, key, where) {
      try {
        return fernetDecrypt(value, key.material);
      } catch (error) {
        const reason = error instanceof DecryptError ? error.message : 'Fernet token does not open';
        throw new DecryptError(`value in ${where.table}.${where.column}: ${reason}`);
      }
    },
    /**
     * By which key's HMAC verifies (constant-time compare): not decodable as a Fernet token is
     * plaintext; decodable but signed by none of the keys is unknown.
     */
    classify(value: string, keys: readonly DataKey[]): Classification {
      const raw = decodeToken(value);
      if (!raw) return { kind: 'plaintext' };
      const key = keys.find((k) => k.material.length === KEY_BYTES && macMatches(raw, k.material));
      return key ? { kind: 'key', key } : { kind: 'unknown' };
    },
    // No key id in a token: SQL cannot tell rows apart, every row is read and classified by HMAC.
    sqlPrefix: () => undefined,
  };
}

/** Fernet with the field holding a standard Fernet key (URL-safe base64 of 32 bytes). */
export const fernet: Codec = fernetCodec('fernet', (fieldValue) => {
  const text = fieldValue.trim();
  const material = Buffer.from(text.replace(/=+$/, ''), 'base64url');
  if (!URLSAFE.test(text) || material.length !== KEY_BYTES) {
    throw new SecretFormatError('the Fernet data key must be 32 bytes in URL-safe base64');
  }
  return material;
});

/**
 * Fernet with the key derived as sqlalchemy-utils' FernetEngine derives it from any string secret
 * (Redash's REDASH_SECRET_KEY): `urlsafe_b64encode(sha256(utf8(secret)))`, i.e. the 32 raw key bytes
 * are the SHA-256 of the field's UTF-8. Any non-empty string is a usable secret.
 */
export const fernetSha256: Codec = fernetCodec('fernet-sha256', (fieldValue) => {
  if (fieldValue.length === 0) throw new SecretFormatError('the secret to derive a Fernet key from is empty');
  return createHash('sha256').update(fieldValue, 'utf8').digest();
});
