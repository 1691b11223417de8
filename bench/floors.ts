/**
 * The physical limits printed beside every figure, measured in the same run: AES-256-GCM on one
 * thread (no rotation can re-encrypt faster than it opens and seals), and the database rewriting the
 * same rows itself in one statement (no rotation through any client can write faster than that).
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto';
import pg from 'pg';
import { processCpuMs } from './proc-cpu.js';
import { BENCH_SCHEMA, BENCH_TABLE, restoreTable, samplePlaintext } from './seed.js';

/** AES-256-GCM alone, one thread. */
export interface CryptoFloor {
  /** Open one value and seal it again under another key (fresh nonce each), per second of wall time. */
  readonly openSealPerSec: number;
  /**
   * The same per second of this process's CPU: what the floor is on a quiet machine, and what it stays
   * when other work on the machine takes the thread's core away part of the time.
   */
  readonly openSealPerCpuSec?: number;
  /** Plaintext bytes per value (the benchmark's values' mean). */
  readonly plaintextBytes: number;
}

/** One UPDATE rewriting every row's value server-side. */
export interface DatabaseFloor {
  readonly rows: number;
  readonly ms: number;
  readonly rowsPerSec: number;
  /** The statement. */
  readonly sql: string;
  /** CPU of the backend that ran it, in ms (from /proc; 0 off Linux). */
  readonly backendCpuMs: number;
}

const AAD = Buffer.from('secrets.payload');

/**
 * Times AES-256-GCM open plus seal of values of the benchmark's size for about `ms` milliseconds
 * (at most a million values), after a warm-up.
 */
export function measureCryptoFloor(ms: number): CryptoFloor {
  const keyA = Buffer.alloc(32, 21);
  const keyB = Buffer.alloc(32, 22);
  const plaintexts = Array.from({ length: 1000 }, (_, i) => Buffer.from(samplePlaintext(i + 1)));
  const sealed = plaintexts.map((p) => seal(keyA, p));
  const nonce = Buffer.alloc(12);
  const work = (i: number) => {
    const value = sealed[i % sealed.length] as Sealed;
    randomFillSync(nonce);
    seal(keyB, open(keyA, value), nonce);
  };
  for (let i = 0; i < 2000; i++) work(i); // warm up the JIT
  const cpu = process.cpuUsage();
  const started = performance.now();
  let n = 0;
  while (n < 1_000_000 && (n % 256 !== 0 || performance.now() - started < ms)) work(n++);
  const wallMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  return {
    openSealPerSec: Math.round(n / (wallMs / 1000)),
    openSealPerCpuSec: Math.round(n / (Math.max(cpuMs, 1) / 1000)),
    plaintextBytes: Math.round(plaintexts.reduce((s, p) => s + p.length, 0) / plaintexts.length),
  };
}

interface Sealed {
  readonly nonce: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

function seal(key: Buffer, plaintext: Buffer, nonce: Buffer = randomFillSync(Buffer.alloc(12))): Sealed {
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(AAD);
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return { nonce, ciphertext, tag: cipher.getAuthTag() };
}

function open(key: Buffer, value: Sealed): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, value.nonce);
  decipher.setAAD(AAD);
  decipher.setAuthTag(value.tag);
  return Buffer.concat([decipher.update(value.ciphertext), decipher.final()]);
}

/**
 * Restores the benchmark table to `rows` rows (not timed), then times one UPDATE that rewrites every
 * row's value server-side: `reverse(reverse(payload))` reads every byte and writes a new row version
 * of the same size, as the rotation's compare-and-swap does, and leaves the values valid. The table is
 * left with a dead version per row: the next run restores it.
 * @throws the driver's error.
 */
export async function measureDatabaseFloor(url: string, rows: number): Promise<DatabaseFloor> {
  await restoreTable(url, rows);
  const sql = `UPDATE ${BENCH_SCHEMA}.${BENCH_TABLE} SET payload = reverse(reverse(payload))`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
    const cpu = processCpuMs(pid);
    const started = performance.now();
    const result = await client.query(sql);
    const ms = performance.now() - started;
    return {
      rows: result.rowCount ?? rows,
      ms,
      rowsPerSec: Math.round((result.rowCount ?? rows) / (ms / 1000)),
      sql,
      backendCpuMs: processCpuMs(pid) - cpu,
    };
  } finally {
    await client.end();
  }
}
