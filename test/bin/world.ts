import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codecFor } from '../../lambda/codecs/index.js';
import type { RekeyConfig } from '../../lambda/config.js';
import { asText } from '../../lambda/sql.js';
import {
  keyOf,
  PLAINTEXTS,
  REDASH_SECRET_A,
  REDASH_SECRET_B,
  RK1_SECRET_A,
  RK1_SECRET_B,
  RK1_SECRET_C,
  redashConfig,
  rk1Config,
  SECRET_ARN,
  seedRedash,
  seedRk1,
} from '../support/fixtures.js';
import { type FakeAws, fakeAws } from './fake-aws.js';

/** Rows per table in the seeded databases (rk1: three tables, four columns, a NULL every fifth row). */
export const ROWS = 10;

/** Every value a test asserts never reaches the CLI's output: keys, secret values, plaintexts. */
export const SECRETS_NOT_TO_PRINT: readonly string[] = [
  ...[RK1_SECRET_A, RK1_SECRET_B, RK1_SECRET_C, REDASH_SECRET_A, REDASH_SECRET_B].flatMap((s) => [
    s,
    ...Object.values(JSON.parse(s) as Record<string, string>),
  ]),
  ...PLAINTEXTS,
];

/** An app: secret and database behind the faked SDK clients, and the config as a file. */
export interface World extends FakeAws {
  readonly config: RekeyConfig;
  readonly configPath: string;
  /** `--secret-id ARN --config FILE`. */
  readonly args: readonly string[];
  /** Stored values by the first of `secrets` whose key wrote them, else 'plaintext', 'unknown' or 'NULL'. */
  countBy(secrets: Readonly<Record<string, string>>): Promise<Record<string, number>>;
  /** Stored values per rk1 key prefix ('rk1:xxxxxxxx:'), 'plaintext', and 'NULL'. */
  prefixes(): Promise<Map<string, number>>;
  /** Re-encrypts up to `limit` rows per column from `from`'s key to `to`'s (a rotation step at work). */
  move(from: string, to: string, limit?: number): Promise<number>;
}

/** The rk1 app: `rows` rows per table under RK1_SECRET_A, and no secret version yet. */
export function rk1World(rows = ROWS): Promise<World> {
  return world(rk1Config(), (db, c) => seedRk1(db, c, RK1_SECRET_A, rows));
}

/** Redash: Fernet tokens in BYTEA under REDASH_SECRET_A, `rows` per table, and no secret version yet. */
export function redashWorld(rows = ROWS): Promise<World> {
  return world(redashConfig(), (db, c) => seedRedash(db, c, REDASH_SECRET_A, rows));
}

async function world(
  config: RekeyConfig,
  seed: (db: FakeAws['db'], config: RekeyConfig) => Promise<void>,
): Promise<World> {
  const fake = await fakeAws(SECRET_ARN);
  await seed(fake.db, config);
  const dir = await mkdtemp(join(tmpdir(), 'rekey-cli-'));
  const configPath = join(dir, 'rekey.json');
  await writeFile(configPath, JSON.stringify(config));
  const codec = codecFor(config.codec);
  const columns = config.storedFields.flatMap((t) => t.columns.map((c) => ({ t, c })));
  const values = async (t: (typeof columns)[number]['t'], c: string) =>
    (await fake.db.execute(`SELECT ${t.id}::text, ${c} FROM ${t.table} ORDER BY 1`)).rows.map(([id, v]) => ({
      id: String(id),
      value: v === null ? null : asText(v as string | Uint8Array),
      binary: v instanceof Uint8Array,
    }));
  return Object.assign(fake, {
    config,
    configPath,
    args: ['--secret-id', SECRET_ARN, '--config', configPath],
    async countBy(secrets: Readonly<Record<string, string>>) {
      const named = Object.entries(secrets).map(([name, s]) => ({ name, key: keyOf(s, config) }));
      const counts: Record<string, number> = {};
      for (const { t, c } of columns) {
        for (const { value } of await values(t, c)) {
          let name = 'NULL';
          if (value !== null) {
            const found = codec.classify(
              value,
              named.map((n) => n.key),
              { table: t.table, column: c },
            );
            name =
              found.kind === 'key'
                ? (named.find((n) => n.key.kid === found.key.kid)?.name as string)
                : found.kind;
          }
          counts[name] = (counts[name] ?? 0) + 1;
        }
      }
      return counts;
    },
    async prefixes() {
      const counts = new Map<string, number>();
      for (const { t, c } of columns) {
        for (const { value } of await values(t, c)) {
          const name = value === null ? 'NULL' : value.startsWith('rk1:') ? value.slice(0, 13) : 'plaintext';
          counts.set(name, (counts.get(name) ?? 0) + 1);
        }
      }
      return counts;
    },
    async move(from: string, to: string, limit = Number.MAX_SAFE_INTEGER) {
      const source = keyOf(from, config);
      const target = keyOf(to, config);
      let moved = 0;
      for (const { t, c } of columns) {
        let here = 0;
        for (const { id, value, binary } of await values(t, c)) {
          if (value === null || here >= limit) continue;
          const where = { table: t.table, column: c };
          const found = codec.classify(value, [source], where);
          if (found.kind !== 'key') continue;
          const next = codec.encrypt(codec.decrypt(value, source, where), target, where);
          await fake.db.execute(`UPDATE ${t.table} SET ${c} = :n WHERE ${t.id}::text = :id`, {
            n: binary ? Buffer.from(next, 'latin1') : next,
            id,
          });
          here++;
          moved++;
        }
      }
      return moved;
    },
  });
}

/** The key prefix of a secret value under the rk1 config. */
export function prefixOf(secret: string, config: RekeyConfig): string {
  return codecFor(config.codec).sqlPrefix(keyOf(secret, config)) as string;
}

/** Fails when any secret value, key or plaintext appears in `text`. */
export function assertNoSecrets(text: string): void {
  for (const s of SECRETS_NOT_TO_PRINT) {
    if (text.includes(s))
      throw new Error(`output contains a secret value or plaintext (${s.length} characters)`);
  }
}
