import { createHmac } from 'node:crypto';

/**
 * The public id of a key: the first 6 bytes of HMAC-SHA256(key, "rekey key id v1") as 8 characters of
 * base64url. One-way, so it tells nothing about the key; the same key always gets the same id.
 */
export function keyIdOf(material: Uint8Array): string {
  return createHmac('sha256', material)
    .update('rekey key id v1')
    .digest()
    .subarray(0, 6)
    .toString('base64url');
}
