import { randomFillSync } from 'node:crypto';

/**
 * Random bytes for nonces and IVs, drawn from a pool that one CSPRNG call fills: a call per value
 * (randomBytes(12)) cost nearly as much CPU as the AES-GCM it feeds, on a rotation that seals every
 * row. Each pool byte is handed out once, then the pool is refilled; the bytes are randomFillSync's
 * own. Only for values that are public once used (nonces and IVs travel in the ciphertext).
 */
const POOL_BYTES = 16 * 1024;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let used = POOL_BYTES;

/** Fills `target` with fresh random bytes (up to the pool's size at a time). */
export function fillRandom(target: Buffer): void {
  if (target.length > POOL_BYTES) {
    randomFillSync(target);
    return;
  }
  if (used + target.length > POOL_BYTES) {
    randomFillSync(pool);
    used = 0;
  }
  pool.copy(target, 0, used, used + target.length);
  used += target.length;
}
