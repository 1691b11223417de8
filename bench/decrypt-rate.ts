import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { FieldContext } from '../lambda/index.js';
import { KeyRing, rk1 } from '../lambda/index.js';
import { startSecretsManager } from '../local/index.js';
import { samplePlaintext } from './seed.js';

/** Reader-side crypto rates on one core. */
export interface DecryptRate {
  /** rk1 values decrypted per second (the reader library's hot path). */
  readonly rk1DecryptPerSec: number;
  readonly rk1EncryptPerSec: number;
  /** Decrypt under one key and encrypt under another: the rotation's CPU work per row. */
  readonly rk1ReencryptPerSec: number;
  readonly valueBytes: number;
  /** `KeyRing.decrypt` (lambda/keyring.ts), loaded from the local Secrets Manager: what an app calls. */
  readonly keyRingDecryptPerSec: number;
}

const WHERE: FieldContext = { table: 'secrets', column: 'payload' };

/**
 * Measures rk1 decrypt, encrypt and re-encrypt rates on values of the benchmark's size, and KeyRing
 * decrypts with a ring loaded from a local Secrets Manager. Each loop runs for about `ms`
 * milliseconds (and at most a million iterations).
 * @throws when the local Secrets Manager cannot start.
 */
export async function measureDecryptRate(ms: number): Promise<DecryptRate> {
  const aField = Buffer.alloc(32, 11).toString('base64');
  const a = rk1.deriveKey(aField);
  const b = rk1.deriveKey(Buffer.alloc(32, 12).toString('base64'));
  const values = Array.from({ length: 1000 }, (_, i) =>
    rk1.encrypt(Buffer.from(samplePlaintext(i)), a, WHERE),
  );
  const decrypt = rate(ms, (i) => rk1.decrypt(values[i % values.length] as string, a, WHERE));
  const encrypt = rate(ms, (i) => rk1.encrypt(Buffer.from(samplePlaintext(i)), a, WHERE));
  const reencrypt = rate(ms, (i) =>
    rk1.encrypt(rk1.decrypt(values[i % values.length] as string, a, WHERE), b, WHERE),
  );
  const ring = await loadRing(aField);
  let n = 0;
  const ringStarted = performance.now();
  while (n < 1_000_000 && (n % 256 !== 0 || performance.now() - ringStarted < ms))
    await ring.decrypt(values[n++ % values.length] as string, WHERE);
  const keyRingDecryptPerSec = Math.round(n / ((performance.now() - ringStarted) / 1000));
  return {
    rk1DecryptPerSec: decrypt,
    rk1EncryptPerSec: encrypt,
    rk1ReencryptPerSec: reencrypt,
    valueBytes: Math.round(values.reduce((s, v) => s + v.length, 0) / values.length),
    keyRingDecryptPerSec,
  };
}

async function loadRing(keyField: string): Promise<KeyRing> {
  const sm = await startSecretsManager();
  const client = new SecretsManagerClient({
    endpoint: sm.url,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const secretId = 'rekey-bench-reader';
    await client.send(
      new CreateSecretCommand({ Name: secretId, SecretString: JSON.stringify({ encryptionKey: keyField }) }),
    );
    return await KeyRing.load({ client, secretId, dataKeyField: 'encryptionKey', codec: 'rk1' });
  } finally {
    client.destroy();
    await sm.close();
  }
}

function rate(ms: number, work: (i: number) => unknown): number {
  for (let i = 0; i < 2000; i++) work(i); // warm up the JIT
  const started = performance.now();
  let n = 0;
  while (n < 1_000_000 && (n % 256 !== 0 || performance.now() - started < ms)) work(n++);
  return Math.round(n / ((performance.now() - started) / 1000));
}
