import assert from 'node:assert/strict';
import { after, describe, it, test } from 'node:test';
import pg from 'pg';
import { ensureBenchDatabase, withDatabase } from '../../bench/bench-database.js';

const url = process.env.REKEY_TEST_PG_URL;

async function exists(base: string, database: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    return found.rowCount === 1;
  } finally {
    await client.end();
  }
}

if (url) {
  describe("the benchmark's own database", () => {
    const scratch = `rekey_bench_probe_${process.pid}`;
    after(async () => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${scratch}`);
      await client.end();
    });

    it('creates its own database when it is missing, and finds it the next time', async () => {
      const said: string[] = [];
      await ensureBenchDatabase(withDatabase(url, scratch), (line) => said.push(line), scratch);
      assert.equal(await exists(url, scratch), true);
      assert.deepEqual(said, [`creating database ${scratch} for the benchmark's tables`]);
      await ensureBenchDatabase(withDatabase(url, scratch), (line) => said.push(line), scratch);
      assert.equal(said.length, 1);
    });

    it('creates no database it was pointed at by name, and says how to', async () => {
      const other = `rekey_not_there_${process.pid}`;
      await assert.rejects(
        ensureBenchDatabase(withDatabase(url, other), () => {}, scratch),
        (error: Error) => {
          assert.match(error.message, new RegExp(`names database '${other}', which does not exist`));
          assert.match(error.message, /createdb/);
          return true;
        },
      );
      assert.equal(await exists(url, other), false);
    });

    it('uses a database that is there', async () => {
      const said: string[] = [];
      await ensureBenchDatabase(url, (line) => said.push(line), scratch);
      assert.deepEqual(said, []);
    });
  });
} else
  test("the benchmark's own database", {
    skip: 'REKEY_TEST_PG_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test)',
  }, () => {});
