import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codecFor } from '../../lambda/codecs/index.js';
import type { RekeyConfig } from '../../lambda/config.js';
import {
  keyOf,
  PLAINTEXTS,
  RK1_SECRET_A,
  RK1_SECRET_B,
  RK1_SECRET_C,
  rk1Config,
  SECRET_ARN,
  seedRk1,
} from '../support/fixtures.js';
import { type FakeAws, fakeAws } from './fake-aws.js';

/** Rows per table in the seeded rk1 database (three tables, four columns, a NULL every fifth row). */
export const ROWS = 10;

/** Every value a test asserts never reaches the CLI's output: keys, secret values, plaintexts. */
export const SECRETS_NOT_TO_PRINT: readonly string[] = [
  ...[RK1_SECRET_A, RK1_SECRET_B, RK1_SECRET_C].flatMap((s) => [
    s,
    ...Object.values(JSON.parse(s) as Record<string, string>),
  ]),
  ...PLAINTEXTS,
];

/** An rk1 app: secret and database behind the faked SDK clients, and the config as a file. */
export interface World extends FakeAws {
  readonly config: RekeyConfig;
  readonly configPath: string;
  /** `--secret-id ARN --config FILE`. */
  readonly args: readonly string[];
  /** Stored values per key prefix ('rk1:xxxxxxxx:'), 'plaintext', and 'NULL'. */
  prefixes(): Promise<Map<string, number>>;
  /** Re-encrypts the first `limit` rows of every column that are under `from` to `to` (a rotation step at work). */
  move(from: string, to: string, limit?: number): Promise<number>;
}

/** Builds the world with `rows` rows per table under RK1_SECRET_A, and no secret version yet. */
export async function rk1World(rows = ROWS): Promise<World> {
  const fake = await fakeAws(SECRET_ARN);
  const config = rk1Config();
  await seedRk1(fake.db, config, RK1_SECRET_A, rows);
  const dir = await mkdtemp(join(tmpdir(), 'rekey-cli-'));
  const configPath = join(dir, 'rekey.json');
  await writeFile(configPath, JSON.stringify(config));
  const codec = codecFor(config.codec);
  const columns = config.storedFields.flatMap((t) => t.columns.map((c) => ({ t, c })));
  return Object.assign(fake, {
    config,
    configPath,
    args: ['--secret-id', SECRET_ARN, '--config', configPath],
    async prefixes() {
      const counts = new Map<string, number>();
      for (const { t, c } of columns) {
        for (const [v] of (await fake.db.execute(`SELECT ${c} FROM ${t.table}`)).rows) {
          const name =
            v === null ? 'NULL' : String(v).startsWith('rk1:') ? String(v).slice(0, 13) : 'plaintext';
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
        const rows = await fake.db.execute(
          `SELECT ${t.id}::text, ${c} FROM ${t.table} WHERE ${c} LIKE :p ORDER BY 1 LIMIT ${limit}`,
          {
            p: `${codec.sqlPrefix(source)}%`,
          },
        );
        for (const [id, value] of rows.rows) {
          const where = { table: t.table, column: c };
          const next = codec.encrypt(codec.decrypt(String(value), source, where), target, where);
          await fake.db.execute(`UPDATE ${t.table} SET ${c} = :n WHERE ${t.id}::text = :id`, {
            n: next,
            id: String(id),
          });
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
