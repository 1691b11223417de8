import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  BatchExecuteStatementCommand,
  BeginTransactionCommand,
  CommitTransactionCommand,
  DatabaseResumingException,
  ExecuteStatementCommand,
  type ExecuteStatementCommandInput,
  type Field,
  type RDSDataClient,
  RollbackTransactionCommand,
  type SqlParameter,
  StatementTimeoutException,
} from '@aws-sdk/client-rds-data';
import { codecFor } from '../../lambda/codecs/index.js';
import type { RekeyConfig } from '../../lambda/config.js';
import { dataApiRunner } from '../../lambda/data-api.js';
import { silentLog } from '../../lambda/log.js';
import { type ReencryptReport, reencrypt } from '../../lambda/passes/reencrypt.js';
import type { Clock, SqlResult, SqlRunner, SqlValue } from '../../lambda/ports.js';
import { TableSql } from '../../lambda/sql.js';
import {
  type DataApiCall,
  type Database,
  type Engine,
  LOCAL_CLUSTER_ARN,
  LOCAL_DB_SECRET_ARN,
  type RunningDataApi,
  startDataApi,
} from '../../local/index.js';
import { keyOf, PLAINTEXTS, RK1_SECRET_A, RK1_SECRET_B, rk1Config } from './fixtures.js';
import { localDataClient, manualClock, recordingSleep, uniqueTableName } from './local-clients.js';
import { recordingRunner } from './recording-runner.js';

/** An engine the shared Data API suite runs against. */
export interface DataApiSuiteTarget {
  readonly label: string;
  readonly dialect: Engine;
  readonly database: string;
  /** Whether the engine has one connection (PGlite), so a transaction makes every other call wait. */
  readonly singleConnection?: boolean;
  open(): Promise<Database>;
}

/** Asserts that a promise rejects with an error of this name (and, optionally, a matching message). */
export async function rejectsNamed(
  promise: Promise<unknown>,
  name: string,
  message?: RegExp,
): Promise<Error> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof Error, 'rejected with a non-Error');
  assert.equal(caught.name, name, `expected ${name}, got ${caught.name}: ${caught.message}`);
  if (message) assert.match(caught.message, message);
  return caught;
}

const MINUTE = 60_000;

/**
 * The Data API behaviour every engine must show through the real SDK client over HTTP: typed Fields,
 * parameters, transactions, limits, faults, latency and stats.
 */
export function dataApiSuite(target: DataApiSuiteTarget): void {
  const pg = target.dialect === 'postgres';
  const q = (name: string): string => (pg ? `"${name}"` : `\`${name}\``);
  const clock = manualClock();
  const sleep = recordingSleep();
  const table = uniqueTableName('rk_types');
  let engine: Database;
  let api: RunningDataApi;
  let client: RDSDataClient;

  const base = { resourceArn: LOCAL_CLUSTER_ARN, secretArn: LOCAL_DB_SECRET_ARN, database: target.database };
  const exec = (
    sql: string,
    parameters?: SqlParameter[],
    extra: Partial<ExecuteStatementCommandInput> = {},
  ) =>
    client.send(
      new ExecuteStatementCommand({ ...base, sql, ...(parameters ? { parameters } : {}), ...extra }),
    );
  const one = async (sql: string, parameters?: SqlParameter[]): Promise<Field[]> => {
    const out = await exec(sql, parameters);
    const row = out.records?.[0];
    assert.ok(row, `no row from ${sql}`);
    return row;
  };
  const begin = async (): Promise<string> => {
    const out = await client.send(new BeginTransactionCommand(base));
    assert.ok(out.transactionId);
    return out.transactionId;
  };
  const end = { resourceArn: base.resourceArn, secretArn: base.secretArn };

  describe(`local Data API on ${target.label}`, () => {
    before(async () => {
      engine = await target.open();
      api = await startDataApi({ engine, clock, sleep });
      client = localDataClient(api.url);
      const ddl = pg
        ? `CREATE TABLE ${table} (id serial PRIMARY KEY, name text, n bigint, x double precision, ok boolean,
             data bytea, amount numeric(12,2), created timestamp(3), day date, at time, u uuid, doc jsonb)`
        : `CREATE TABLE ${table} (id int AUTO_INCREMENT PRIMARY KEY, name text, n bigint, x double, ok boolean,
             data blob, amount decimal(12,2), created datetime(3), day date, at time, u char(36), doc json)`;
      await exec(ddl);
    });

    after(async () => {
      await exec(`DROP TABLE IF EXISTS ${table}`).catch(() => {});
      client.destroy();
      await api.close();
      await engine.close();
    });

    it('round-trips every Field type through INSERT and SELECT', async () => {
      const bytes = new Uint8Array([0, 1, 2, 254, 255]);
      const inserted = await exec(
        `INSERT INTO ${table} (name, n, x, ok, data, amount, created, day, at, u, doc)
         VALUES (:name, :n, :x, :ok, :data, :amount, :created, :day, :at, :u, :doc)`,
        [
          { name: 'name', value: { stringValue: 'grüße' } },
          { name: 'n', value: { longValue: 1234567890123 } },
          { name: 'x', value: { doubleValue: 1.5 } },
          { name: 'ok', value: { booleanValue: true } },
          { name: 'data', value: { blobValue: bytes } },
          { name: 'amount', value: { stringValue: '12.34' }, typeHint: 'DECIMAL' },
          { name: 'created', value: { stringValue: '2024-02-03 04:05:06.789' }, typeHint: 'TIMESTAMP' },
          { name: 'day', value: { stringValue: '2024-02-03' }, typeHint: 'DATE' },
          { name: 'at', value: { stringValue: '04:05:06' }, typeHint: 'TIME' },
          { name: 'u', value: { stringValue: '6f1b0f3e-4a1c-4a8e-9d69-2e4a2e9a1f00' }, typeHint: 'UUID' },
          { name: 'doc', value: { stringValue: '{"a":1}' }, typeHint: 'JSON' },
        ],
      );
      assert.equal(inserted.numberOfRecordsUpdated, 1);
      const row = await one(
        `SELECT name, n, x, ok, data, amount, created, day, at, u, doc FROM ${table} WHERE name = :name`,
        [{ name: 'name', value: { stringValue: 'grüße' } }],
      );
      const [name, n, x, ok, data, amount, created, day, at, u, doc] = row;
      assert.deepEqual(name, { stringValue: 'grüße' });
      assert.deepEqual(n, { longValue: 1234567890123 });
      assert.deepEqual(x, { doubleValue: 1.5 });
      assert.deepEqual(ok, { booleanValue: true });
      assert.deepEqual(data?.blobValue && [...data.blobValue], [...bytes]);
      assert.deepEqual(amount, { stringValue: '12.34' });
      assert.deepEqual(created, { stringValue: '2024-02-03 04:05:06.789' });
      assert.deepEqual(day, { stringValue: '2024-02-03' });
      assert.deepEqual(at, { stringValue: '04:05:06' });
      assert.deepEqual(u, { stringValue: '6f1b0f3e-4a1c-4a8e-9d69-2e4a2e9a1f00' });
      assert.deepEqual(JSON.parse(doc?.stringValue ?? 'null'), { a: 1 });
    });

    it('answers NULL as isNull and binds isNull parameters', async () => {
      const row = await one('SELECT :v AS v', [{ name: 'v', value: { isNull: true } }]);
      assert.deepEqual(row, [{ isNull: true }]);
    });

    it('returns column metadata when includeResultMetadata is set', async () => {
      const out = await exec(`SELECT id, name, n, data FROM ${table}`, undefined, {
        includeResultMetadata: true,
      });
      const columns = out.columnMetadata ?? [];
      assert.deepEqual(
        columns.map((c) => c.name),
        ['id', 'name', 'n', 'data'],
      );
      assert.equal(columns[2]?.type, -5, 'bigint is JDBC BIGINT');
      assert.ok([-2, -3, -4].includes(columns[3]?.type ?? 0), 'binary column has a JDBC binary type');
      assert.equal(columns[0]?.isSigned, true);
    });

    it('counts the rows an UPDATE or DELETE touched in numberOfRecordsUpdated', async () => {
      await exec(`INSERT INTO ${table} (name) VALUES ('count-a'), ('count-b')`);
      const updated = await exec(`UPDATE ${table} SET n = 7 WHERE name LIKE :p`, [
        { name: 'p', value: { stringValue: 'count-%' } },
      ]);
      assert.equal(updated.numberOfRecordsUpdated, 2);
      const deleted = await exec(`DELETE FROM ${table} WHERE name LIKE 'count-%'`);
      assert.equal(deleted.numberOfRecordsUpdated, 2);
      const selected = await exec(`SELECT name FROM ${table}`);
      assert.equal(selected.numberOfRecordsUpdated, 0);
    });

    it('formats records as one JSON string when formatRecordsAs is JSON', async () => {
      const out = await exec(
        'SELECT 1 AS one, :s AS s, :b AS b',
        [
          { name: 's', value: { stringValue: 'x' } },
          { name: 'b', value: { isNull: true } },
        ],
        { formatRecordsAs: 'JSON' },
      );
      assert.equal(out.records, undefined);
      assert.deepEqual(JSON.parse(out.formattedRecords ?? ''), [{ one: 1, s: 'x', b: null }]);
    });

    it('returns DECIMAL and BIGINT as numbers or strings per resultSetOptions', async () => {
      const out = await exec(
        `SELECT CAST(12.5 AS DECIMAL(6,2)) AS d, CAST(42 AS ${pg ? 'bigint' : 'SIGNED'}) AS l`,
        undefined,
        {
          resultSetOptions: { decimalReturnType: 'DOUBLE_OR_LONG', longReturnType: 'STRING' },
        },
      );
      assert.deepEqual(out.records?.[0], [{ doubleValue: 12.5 }, { stringValue: '42' }]);
    });

    it("leaves a :name inside a string literal alone ('it''s :not_a_param')", async () => {
      const row = await one("SELECT 'it''s :not_a_param' AS s, :p AS p", [
        { name: 'p', value: { longValue: 1 } },
      ]);
      assert.deepEqual(row, [{ stringValue: "it's :not_a_param" }, { longValue: 1 }]);
    });

    it('leaves a :name in a comment or a quoted identifier alone', async () => {
      const comment = pg ? '-- :nope' : '# :nope';
      const out = await exec(
        `SELECT :a AS ${q('x:y')} /* :nope */ ${comment}\n`,
        [{ name: 'a', value: { longValue: 3 } }],
        { includeResultMetadata: true },
      );
      assert.deepEqual(out.records?.[0], [{ longValue: 3 }]);
      assert.equal(out.columnMetadata?.[0]?.label, 'x:y');
    });

    it('does not take a ::cast for a parameter', { skip: !pg && 'PostgreSQL syntax' }, async () => {
      const row = await one('SELECT :v::text AS t, 5::text AS five, x::text FROM (SELECT 1 AS x) s', [
        { name: 'v', value: { longValue: 9 } },
      ]);
      assert.deepEqual(row, [{ stringValue: '9' }, { stringValue: '5' }, { stringValue: '1' }]);
    });

    it('binds one value to a name used twice', async () => {
      const row = await one('SELECT :v AS a, :v AS b', [{ name: 'v', value: { stringValue: 'same' } }]);
      assert.deepEqual(row, [{ stringValue: 'same' }, { stringValue: 'same' }]);
    });

    it('refuses a statement that uses a parameter it was not given', async () => {
      await rejectsNamed(exec('SELECT :missing AS m'), 'BadRequestException', /missing/);
    });

    it('refuses two statements in one call', async () => {
      await rejectsNamed(exec('SELECT 1; SELECT 2'), 'BadRequestException', /Multistatements/);
      assert.ok(await exec('SELECT 1;'), 'a trailing semicolon is one statement');
    });

    it("reports a SQL error as BadRequestException with the database's message", async () => {
      await rejectsNamed(exec('SELECT * FROM rk_no_such_table'), 'BadRequestException', /rk_no_such_table/);
    });

    it('sends a string as varchar unless hinted, so a uuid column needs the UUID hint', {
      skip: !pg && 'PostgreSQL typing',
    }, async () => {
      await rejectsNamed(
        exec(`INSERT INTO ${table} (u) VALUES (:u)`, [
          { name: 'u', value: { stringValue: '6f1b0f3e-4a1c-4a8e-9d69-2e4a2e9a1f00' } },
        ]),
        'BadRequestException',
        /uuid/,
      );
    });

    it('returns arrays as arrayValue', { skip: !pg && 'arrays are PostgreSQL-only' }, async () => {
      const row = await one(
        "SELECT ARRAY[1,2,NULL]::int8[] AS a, ARRAY['x','y z'] AS b, ARRAY[[1,2],[3,4]] AS c",
      );
      assert.deepEqual(row, [
        { arrayValue: { longValues: [1, 2, null] } },
        { arrayValue: { stringValues: ['x', 'y z'] } },
        { arrayValue: { arrayValues: [{ longValues: [1, 2] }, { longValues: [3, 4] }] } },
      ]);
    });

    it('makes the writes of a committed transaction visible', async () => {
      const id = await begin();
      await exec(`INSERT INTO ${table} (name) VALUES ('tx-commit')`, undefined, { transactionId: id });
      const out = await client.send(new CommitTransactionCommand({ ...end, transactionId: id }));
      assert.equal(out.transactionStatus, 'Transaction Committed');
      assert.equal((await exec(`SELECT id FROM ${table} WHERE name = 'tx-commit'`)).records?.length, 1);
    });

    it('discards the writes of a rolled back transaction', async () => {
      const id = await begin();
      await exec(`INSERT INTO ${table} (name) VALUES ('tx-rollback')`, undefined, { transactionId: id });
      const out = await client.send(new RollbackTransactionCommand({ ...end, transactionId: id }));
      assert.equal(out.transactionStatus, 'Rollback Complete');
      assert.equal((await exec(`SELECT id FROM ${table} WHERE name = 'tx-rollback'`)).records?.length, 0);
    });

    it('ends a transaction three minutes after its last call', async () => {
      const id = await begin();
      clock.advance(2 * MINUTE);
      await exec(`INSERT INTO ${table} (name) VALUES ('tx-expired')`, undefined, { transactionId: id });
      clock.advance(2 * MINUTE);
      await exec('SELECT 1', undefined, { transactionId: id });
      clock.advance(3 * MINUTE + 1);
      await rejectsNamed(
        exec('SELECT 1', undefined, { transactionId: id }),
        'TransactionNotFoundException',
        new RegExp(`^Transaction ${id.replace(/[+/]/g, '\\$&')} isn't found$`),
      );
      assert.equal((await exec(`SELECT id FROM ${table} WHERE name = 'tx-expired'`)).records?.length, 0);
    });

    it(
      target.singleConnection
        ? 'runs a call outside a transaction only after the transaction ends (one connection)'
        : 'runs a call outside a transaction at once on another connection, isolated from it',
      async () => {
        const id = await begin();
        await exec(`INSERT INTO ${table} (name) VALUES ('tx-held')`, undefined, { transactionId: id });
        const outside = exec(`SELECT id FROM ${table} WHERE name = 'tx-held'`);
        if (target.singleConnection) {
          await client.send(new CommitTransactionCommand({ ...end, transactionId: id }));
          assert.equal((await outside).records?.length, 1, 'it waited for the commit');
        } else {
          assert.equal((await outside).records?.length, 0, 'it did not see the uncommitted row');
          await client.send(new CommitTransactionCommand({ ...end, transactionId: id }));
        }
      },
    );

    it('refuses an unknown transaction and one already ended', async () => {
      await rejectsNamed(
        client.send(new CommitTransactionCommand({ ...end, transactionId: 'no-such-transaction' })),
        'TransactionNotFoundException',
      );
      const id = await begin();
      await client.send(new CommitTransactionCommand({ ...end, transactionId: id }));
      await rejectsNamed(
        client.send(new CommitTransactionCommand({ ...end, transactionId: id })),
        'TransactionNotFoundException',
      );
      await rejectsNamed(exec('SELECT 1', undefined, { transactionId: id }), 'TransactionNotFoundException');
    });

    it('ends a transaction in which a statement failed', async () => {
      const id = await begin();
      await exec(`INSERT INTO ${table} (name) VALUES ('tx-aborted')`, undefined, { transactionId: id });
      await rejectsNamed(
        exec('SELECT * FROM rk_no_such_table', undefined, { transactionId: id }),
        'BadRequestException',
      );
      await rejectsNamed(
        client.send(new CommitTransactionCommand({ ...end, transactionId: id })),
        'TransactionNotFoundException',
      );
      assert.equal((await exec(`SELECT id FROM ${table} WHERE name = 'tx-aborted'`)).records?.length, 0);
    });

    it('runs a batch over its parameter sets, one updateResult each, all or nothing', async () => {
      const sets = ['batch-1', 'batch-2', 'batch-3'].map((name) => [
        { name: 'name', value: { stringValue: name } },
      ]);
      const out = await client.send(
        new BatchExecuteStatementCommand({
          ...base,
          sql: `INSERT INTO ${table} (name) VALUES (:name)${pg ? ' RETURNING id' : ''}`,
          parameterSets: sets,
        }),
      );
      assert.equal(out.updateResults?.length, 3);
      for (const result of out.updateResults ?? []) {
        assert.equal(typeof result.generatedFields?.[0]?.longValue, 'number', 'generated id reported');
      }
      const failing = [
        [{ name: 'id', value: { longValue: 900001 } }],
        [{ name: 'id', value: { longValue: 900001 } }],
      ];
      await rejectsNamed(
        client.send(
          new BatchExecuteStatementCommand({
            ...base,
            sql: `INSERT INTO ${table} (id) VALUES (:id)`,
            parameterSets: failing,
          }),
        ),
        'BadRequestException',
      );
      assert.equal((await exec(`SELECT id FROM ${table} WHERE id = 900001`)).records?.length, 0);
    });

    it('refuses a response over 1 MiB with the response size limit error', async () => {
      const sql =
        "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 25) SELECT REPEAT('x', 50000) FROM s";
      await rejectsNamed(
        exec(sql),
        'BadRequestException',
        /^Database returned more than the allowed response size limit$/,
      );
    });

    it('refuses a result row over 64 KB', async () => {
      await rejectsNamed(
        exec("SELECT REPEAT('x', 70000) AS big"),
        'BadRequestException',
        /Packet for query is too large/,
      );
    });

    it('refuses a request over 4 MiB with HTTP 413', async () => {
      const error = await rejectsNamed(
        exec('SELECT :big AS big', [
          { name: 'big', value: { stringValue: 'x'.repeat(4 * 1024 * 1024 + 1) } },
        ]),
        'RequestEntityTooLargeException',
      );
      assert.equal((error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode, 413);
    });

    it('requires resourceArn, secretArn and database as the service does', async () => {
      const without = (key: keyof typeof base) => {
        const input: Record<string, string> = { ...base, sql: 'SELECT 1' };
        delete input[key];
        return client.send(new ExecuteStatementCommand(input as unknown as ExecuteStatementCommandInput));
      };
      await rejectsNamed(without('resourceArn'), 'BadRequestException', /resourceArn/);
      await rejectsNamed(without('secretArn'), 'BadRequestException', /secretArn/);
      await rejectsNamed(without('database'), 'BadRequestException', /database/);
    });

    it('answers injected faults with the errors the SDK names', async () => {
      api.dataApi.setFaults({
        onCalls: { 1: 'throttling', 2: 'statementTimeout', 3: 'databaseResuming', 4: 'serviceUnavailable' },
      });
      try {
        const throttled = await rejectsNamed(exec('SELECT 1'), 'ThrottlingException', /Rate exceeded/);
        assert.equal(
          (throttled as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
          400,
        );
        await assert.rejects(exec('SELECT 1'), StatementTimeoutException);
        await assert.rejects(exec('SELECT 1'), DatabaseResumingException);
        const unavailable = await rejectsNamed(exec('SELECT 1'), 'ServiceUnavailableError');
        assert.equal(
          (unavailable as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode,
          503,
        );
        assert.ok(await exec('SELECT 1'), 'the fifth call goes through');
      } finally {
        api.dataApi.setFaults(undefined);
      }
    });

    it('injects faults at a seeded rate, the same way on every run', async () => {
      const pattern = async (): Promise<string> => {
        api.dataApi.setFaults({ rate: 0.4, seed: 7 });
        let out = '';
        for (let i = 0; i < 20; i++)
          out += await exec('SELECT 1').then(
            () => '.',
            (e: Error) => e.name[0],
          );
        return out;
      };
      try {
        const first = await pattern();
        assert.equal(await pattern(), first);
        assert.match(first, /\./);
        assert.match(first, /[^.]/);
      } finally {
        api.dataApi.setFaults(undefined);
      }
    });

    it('runs the statement but loses the answer for an afterExecute fault', async () => {
      api.dataApi.setFaults({ onCalls: { 1: { kind: 'statementTimeout', afterExecute: true } } });
      try {
        await assert.rejects(
          exec(`INSERT INTO ${table} (name) VALUES ('lost-answer')`),
          StatementTimeoutException,
        );
      } finally {
        api.dataApi.setFaults(undefined);
      }
      assert.equal((await exec(`SELECT id FROM ${table} WHERE name = 'lost-answer'`)).records?.length, 1);
    });

    it('counts calls and bytes in and out', async () => {
      api.dataApi.resetStats();
      await exec('SELECT 1');
      await begin().then((id) => client.send(new RollbackTransactionCommand({ ...end, transactionId: id })));
      const stats = api.dataApi.stats();
      assert.equal(stats.calls, 3);
      assert.equal(stats.byOperation.Execute, 1);
      assert.equal(stats.byOperation.BeginTransaction, 1);
      assert.equal(stats.byOperation.RollbackTransaction, 1);
      assert.ok(stats.bytesIn > 300, `bytesIn ${stats.bytesIn}`);
      assert.ok(stats.bytesOut > 50, `bytesOut ${stats.bytesOut}`);
    });

    it('tells a call listener of every call as it is answered: operation, statement, times, error type', async () => {
      const seen: DataApiCall[] = [];
      api.dataApi.observeCalls((call) => seen.push(call));
      try {
        await exec('SELECT 1');
        await rejectsNamed(exec('SELECT :missing AS m'), 'BadRequestException');
        await begin().then((id) =>
          client.send(new RollbackTransactionCommand({ ...end, transactionId: id })),
        );
        api.dataApi.setFaults({ onCalls: { 1: { kind: 'statementTimeout' } } });
        await rejectsNamed(exec('SELECT 3'), 'StatementTimeoutException');
      } finally {
        api.dataApi.setFaults(undefined);
        api.dataApi.observeCalls(undefined);
      }
      await exec('SELECT 2');
      assert.deepEqual(
        seen.map((c) => [c.operation, c.sql, c.errorType]),
        [
          ['Execute', 'SELECT 1', undefined],
          ['Execute', 'SELECT :missing AS m', 'BadRequestException'],
          ['BeginTransaction', undefined, undefined],
          ['RollbackTransaction', undefined, undefined],
          // Refused before the statement ran: its text is still told.
          ['Execute', 'SELECT 3', 'StatementTimeoutException'],
        ],
      );
      for (const c of seen) assert.ok(c.receivedAt <= c.answeredAt, `${c.operation} answered before it came`);
    });

    it('waits the configured latency on every call', async () => {
      api.dataApi.setLatency(25);
      sleep.slept.length = 0;
      try {
        await exec('SELECT 1');
        await exec('SELECT 2');
      } finally {
        api.dataApi.setLatency(0);
      }
      assert.deepEqual(sleep.slept, [25, 25]);
    });

    describe('rekey passes through it (real SDK client, rekey statements)', () => {
      const plan = { target: RK1_SECRET_B, sources: [RK1_SECRET_A] };
      const rk1 = codecFor('rk1');
      const keyA = keyOf(RK1_SECRET_A, rk1Config());
      const keyB = keyOf(RK1_SECRET_B, rk1Config());
      const created: string[] = [];
      const runner = (): SqlRunner =>
        dataApiRunner(client, {
          resourceArn: LOCAL_CLUSTER_ARN,
          secretArn: LOCAL_DB_SECRET_ARN,
          database: target.database,
          engine: target.dialect,
        });
      const configFor = (table: string, columns: string[]): RekeyConfig =>
        rk1Config({
          storedFields: [{ table, id: 'id', columns }],
          paging: { maxRows: 2, maxBytes: 512 * 1024 },
        });
      /** One re-encryption pass, as setSecret runs it; time moves a second per look at the clock. */
      const pass = (config: RekeyConfig, db: SqlRunner = runner()): Promise<ReencryptReport> => {
        let now = Date.UTC(2025, 0, 15);
        const ticking: Clock = {
          now: () => (now += 1000),
          sleep: async (ms) => {
            now += ms;
          },
        };
        return reencrypt(plan, { db, clock: ticking, log: silentLog, config, deadline: now + 10 * MINUTE });
      };
      const create = async (table: string, ddl: string) => {
        created.push(table);
        await exec(`CREATE TABLE ${table} ${ddl}`);
      };
      const enc = (table: string, column: string, i: number) =>
        rk1.encrypt(Buffer.from(PLAINTEXTS[i % PLAINTEXTS.length] as string), keyA, { table, column });
      const idText = pg ? 'CAST(id AS text)' : 'CAST(id AS CHAR)';
      /** Every row's id (as text) and stored value (as text), in id order. */
      const stored = async (table: string, column: string): Promise<[string, string | undefined][]> => {
        const out = await exec(`SELECT ${idText}, ${column} FROM ${table} ORDER BY id`);
        return (out.records ?? []).map(([i, v]) => [
          i?.stringValue ?? '?',
          v?.blobValue ? Buffer.from(v.blobValue).toString('latin1') : v?.stringValue,
        ]);
      };
      /** Asserts the value decrypts with B's key alone to the plaintext it was seeded with. */
      const underB = (table: string, column: string, value: string | undefined, i: number) => {
        assert.ok(value?.startsWith(`rk1:${keyB.kid}:`), `${table}.${column} row ${i} is not under B`);
        const plain = Buffer.from(rk1.decrypt(value as string, keyB, { table, column })).toString();
        assert.equal(plain, PLAINTEXTS[i % PLAINTEXTS.length]);
      };

      after(async () => {
        for (const t of created) await exec(`DROP TABLE IF EXISTS ${t}`).catch(() => {});
      });

      it('moves every row of a table keyed by CHAR(n), over several pages', async () => {
        const t = uniqueTableName('rk_char');
        await create(t, '(id CHAR(12) PRIMARY KEY, secret TEXT)');
        const ids = ['a b', 'k-1', 'k-10', 'k-2', 'k-3', 'z'];
        for (const [i, id] of ids.entries()) {
          await exec(`INSERT INTO ${t} (id, secret) VALUES (:id, :v)`, [
            { name: 'id', value: { stringValue: id } },
            { name: 'v', value: { stringValue: enc(t, 'secret', i) } },
          ]);
        }
        const report = await pass(configFor(t, ['secret']));
        assert.equal(report.columns[0]?.rewritten, ids.length);
        const rows = await stored(t, 'secret');
        assert.deepEqual(
          rows.map(([id]) => id.trimEnd()),
          ids,
        );
        rows.forEach(([, v], i) => {
          underB(t, 'secret', v, i);
        });
      });

      /**
       * Eleven rows with BIGINT ids near 2^60, which a double cannot tell apart (each boundary starts
       * after the last); rows 1, 4 and 7 are already under B, so a pass that skips B's prefix reads `left`.
       */
      async function seedBoundaryRows(name: string): Promise<{ t: string; ids: string[]; left: string[] }> {
        const t = uniqueTableName(name);
        await create(t, '(id BIGINT PRIMARY KEY, secret TEXT)');
        const ids = Array.from({ length: 11 }, (_, k) => (1152921504606846977n + 2n * BigInt(k)).toString());
        const done = new Set([1, 4, 7]);
        for (const [i, id] of ids.entries()) {
          const value = done.has(i)
            ? rk1.encrypt(Buffer.from('x'), keyB, { table: t, column: 'secret' })
            : enc(t, 'secret', i);
          await exec(`INSERT INTO ${t} (id, secret) VALUES (${pg ? 'CAST(:id AS bigint)' : ':id'}, :v)`, [
            { name: 'id', value: { stringValue: id } },
            { name: 'v', value: { stringValue: value } },
          ]);
        }
        return { t, ids, left: ids.filter((_, i) => !done.has(i)) };
      }

      it('numbers the boundaries of key ranges as every n-th id a pass would read, on BIGINTs near 2^60', async () => {
        const { t, ids, left } = await seedBoundaryRows('rk_bounds');
        const table = await TableSql.open(runner(), { table: t, id: 'id', columns: ['secret'] });
        assert.deepEqual(await table.boundaries('secret', { every: 3, limit: 5 }), [ids[2], ids[5], ids[8]]);
        assert.deepEqual(await table.boundaries('secret', { every: 3, limit: 2 }), [ids[2], ids[5]]);
        assert.deepEqual(
          await table.boundaries('secret', { every: 2, limit: 9, skipPrefix: rk1.sqlPrefix(keyB) }),
          [left[1], left[3], left[5], left[7]],
        );
      });

      it('takes the boundaries of a large column from a sample of its pages on PostgreSQL, and on MySQL skips a chunk of rows a statement', async () => {
        const { t, ids, left } = await seedBoundaryRows('rk_sample');
        const spy = recordingRunner(runner());
        const statements = spy.sent;
        // Every column is "large" here; so small a table is sampled whole, so the quantiles are exact.
        const table = await TableSql.open(
          spy,
          { table: t, id: 'id', columns: ['secret'] },
          { sampleAboveRows: 0 },
        );
        statements.length = 0;
        // percentile_disc(f) of n rows is the ceil(f * n)-th.
        const quantile = (rows: string[], f: number) => rows[Math.ceil(f * rows.length) - 1];
        const skipB = rk1.sqlPrefix(keyB);
        if (pg) {
          assert.deepEqual(await table.boundaries('secret', { every: 3, limit: 3 }), [
            quantile(ids, 1 / 4),
            quantile(ids, 2 / 4),
            quantile(ids, 3 / 4),
          ]);
          assert.deepEqual(await table.boundaries('secret', { every: 2, limit: 1, skipPrefix: skipB }), [
            quantile(left, 1 / 2),
          ]);
          // More boundaries than rows: neighbouring quantiles fall on one row, which is kept once.
          const fractions = Array.from({ length: 30 }, (_, i) => (i + 1) / 31);
          assert.deepEqual(await table.boundaries('secret', { every: 1, limit: 30, skipPrefix: skipB }), [
            ...new Set(fractions.map((f) => quantile(left, f))),
          ]);
          assert.ok(statements.every((sql) => sql.includes('TABLESAMPLE SYSTEM')));
        } else {
          // No page sample on MySQL: the exact boundaries, by statements that skip a chunk of rows at most.
          assert.deepEqual(await table.boundaries('secret', { every: 3, limit: 5 }), [
            ids[2],
            ids[5],
            ids[8],
          ]);
          assert.ok(statements.every((sql) => !sql.includes('TABLESAMPLE')));
          const chunked = await TableSql.open(
            spy,
            { table: t, id: 'id', columns: ['secret'] },
            { chunkRows: 2 },
          );
          statements.length = 0;
          assert.deepEqual(await chunked.boundaries('secret', { every: 3, limit: 5 }), [
            ids[2],
            ids[5],
            ids[8],
          ]);
          // Two statements a boundary (2 rows, then 1), and two more that find no fourth.
          assert.equal(statements.length, 8);
          assert.ok(statements.every((sql) => /OFFSET [01]$/.test(sql)));
          assert.deepEqual(await chunked.boundaries('secret', { every: 2, limit: 9, skipPrefix: skipB }), [
            left[1],
            left[3],
            left[5],
            left[7],
          ]);
        }
      });

      it('counts, sizes and finds oversized values a chunk of the id index at a time, as one statement would', async () => {
        const t = uniqueTableName('rk_chunks');
        const prefixA = rk1.sqlPrefix(keyA) as string;
        const prefixB = rk1.sqlPrefix(keyB) as string;
        await create(t, '(id BIGINT PRIMARY KEY, secret TEXT)');
        const ids = Array.from({ length: 11 }, (_, k) => (1152921504606846977n + 2n * BigInt(k)).toString());
        // Under B: 1, 4, 7; no value: 2, 9; plaintext too large for a page: 5, 8; the rest under A.
        const values = ids.map((_, i) =>
          [1, 4, 7].includes(i)
            ? rk1.encrypt(Buffer.from('x'), keyB, { table: t, column: 'secret' })
            : [2, 9].includes(i)
              ? null
              : [5, 8].includes(i)
                ? 'p'.repeat(400 + i)
                : enc(t, 'secret', i),
        );
        for (const [i, id] of ids.entries()) {
          const value = values[i] ?? null;
          await exec(`INSERT INTO ${t} (id, secret) VALUES (${pg ? 'CAST(:id AS bigint)' : ':id'}, :v)`, [
            { name: 'id', value: { stringValue: id } },
            { name: 'v', value: value === null ? { isNull: true } : { stringValue: value } },
          ]);
        }
        const present = values.filter((v): v is string => v !== null);
        const notB = present.filter((v) => !v.startsWith(prefixB));
        const bytes = (v: string) => Buffer.byteLength(v);
        const expected = (of: string[]) => ({
          rows: of.length,
          maxBytes: Math.max(...of.map(bytes)),
          avgBytes: of.reduce((sum, v) => sum + bytes(v), 0) / of.length,
        });
        const prefixes = new Map([
          [prefixA, present.filter((v) => v.startsWith(prefixA)).length],
          [prefixB, 3],
        ]);
        const stored = { table: t, id: 'id', columns: ['secret'] };
        // Chunks of 3 rows (3, 3, 3, 2), of 11 (one full chunk, then an empty one), and the engine's own way.
        for (const chunkRows of [3, 11, undefined]) {
          const spy = recordingRunner(runner());
          const sent = spy.sent;
          const table = await TableSql.open(spy, stored, chunkRows === undefined ? {} : { chunkRows });
          const label = `chunks of ${chunkRows ?? 'the default'}`;
          const stats = await table.stats('secret');
          assert.deepEqual(
            { ...stats, avgBytes: Math.round(stats.avgBytes * 1000) },
            {
              ...expected(present),
              avgBytes: Math.round(expected(present).avgBytes * 1000),
            },
            label,
          );
          const left = await table.stats('secret', prefixB);
          assert.equal(left.rows, notB.length, label);
          assert.equal(left.maxBytes, expected(notB).maxBytes, label);
          assert.deepEqual(await table.countByPrefix('secret', 'rk1:', prefixA.length), prefixes, label);
          assert.deepEqual(await table.idsLargerThan('secret', 300), [ids[5], ids[8]], label);
          assert.deepEqual(await table.idsLargerThan('secret', 405), [ids[8]], label);
          if (chunkRows === 3) {
            // Four chunks (3, 3, 3, 2) for each of the five aggregates, each bounded by its LIMIT, and the
            // ids of the large values read from their own chunk's range only (two chunks, then one).
            const aggregates = sent.slice(1);
            // What lambda/plan.ts predicts with.
            assert.equal(table.statementsPerScan(ids.length), 4, label);
            assert.equal(table.statementsPerScan(12), 5, label);
            assert.equal(aggregates.filter((q) => q.includes('LIMIT 3')).length, 5 * 4, label);
            assert.equal(aggregates.filter((q) => !q.includes('LIMIT 3')).length, 3, label);
            assert.ok(
              aggregates.every((q) => q.includes('LIMIT')),
              label,
            );
            assert.equal(aggregates.filter((q) => q.includes('GROUP BY')).length, 4, label);
          }
        }
        // Chunks of 4 (4, 4, 3), the key-id count first: the same counts.
        const fresh = await TableSql.open(runner(), stored, { chunkRows: 4 });
        assert.deepEqual(await fresh.countByPrefix('secret', 'rk1:', prefixA.length), prefixes);
        assert.deepEqual(await fresh.idsLargerThan('secret', 300), [ids[5], ids[8]]);
      });

      it('moves every row keyed by BIGINTs near 2^60, text and binary, and reports their ids exactly', async () => {
        const t = uniqueTableName('rk_big');
        await create(t, `(id BIGINT PRIMARY KEY, payload TEXT, data ${pg ? 'BYTEA' : 'LONGBLOB'})`);
        // Snowflake-style ids: all of them are the same number as a double (2^60), none as a BIGINT.
        const ids = Array.from({ length: 7 }, (_, k) => (1152921504606846977n + 2n * BigInt(k)).toString());
        const plaintextId = ids[6] as string;
        for (const [i, id] of ids.entries()) {
          const data = id === plaintextId ? 'not encrypted' : enc(t, 'data', i);
          await exec(
            `INSERT INTO ${t} (id, payload, data) VALUES (${pg ? 'CAST(:id AS bigint)' : ':id'}, :p, :d)`,
            [
              { name: 'id', value: { stringValue: id } },
              { name: 'p', value: { stringValue: enc(t, 'payload', i) } },
              { name: 'd', value: { blobValue: Buffer.from(data, 'latin1') } },
            ],
          );
        }
        // The app rewrites the first row under the old key between rekey's read and its first write:
        // the compare-and-swap misses it and the conflict re-read (bounded by ids) moves it.
        const inner = runner();
        let appWrote = false;
        const racing: SqlRunner = {
          ...inner,
          async execute(sql, params, options): Promise<SqlResult> {
            if (!appWrote && sql.startsWith('UPDATE')) {
              appWrote = true;
              await inner.execute(
                `UPDATE ${t} SET payload = :p WHERE id = ${pg ? 'CAST(:id AS bigint)' : 'CAST(:id AS SIGNED)'}`,
                { p: enc(t, 'payload', 0), id: ids[0] as SqlValue },
              );
            }
            return inner.execute(sql, params, options);
          },
        };
        const config = configFor(t, ['payload', 'data']);
        const report = await pass(config, racing);
        const [payload, data] = report.columns;
        assert.equal(payload?.conflicts, 1, 'the app write was a conflict');
        assert.equal(payload?.rewritten, ids.length);
        assert.equal(data?.rewritten, ids.length - 1);
        assert.deepEqual(data?.plaintextIds, [plaintextId]);
        for (const column of ['payload', 'data']) {
          const rows = await stored(t, column);
          assert.deepEqual(
            rows.map(([id]) => id),
            ids,
          );
          rows.forEach(([id, v], i) => {
            if (column === 'data' && id === plaintextId) assert.equal(v, 'not encrypted');
            else underB(t, column, v, i);
          });
        }
        const table = await TableSql.open(runner(), config.storedFields[0] as RekeyConfig['storedFields'][0]);
        assert.deepEqual(await table.idsLargerThan('payload', 0), ids);
        assert.deepEqual(
          (await table.page('data', { after: ids[1], upTo: ids[4], limit: 10 })).map((r) => r.id),
          ids.slice(2, 5),
        );
      });

      it('refuses a table whose id has duplicates before any write, naming table and column', async () => {
        const t = uniqueTableName('rk_dup');
        await create(t, '(id BIGINT, secret TEXT)');
        for (const [i, id] of [1, 2, 2, 3].entries()) {
          await exec(`INSERT INTO ${t} (id, secret) VALUES (:id, :v)`, [
            { name: 'id', value: { longValue: id } },
            { name: 'v', value: { stringValue: enc(t, 'secret', i) } },
          ]);
        }
        api.dataApi.resetStats();
        await assert.rejects(pass(configFor(t, ['secret'])), {
          name: 'ConfigError',
          message: new RegExp(`id column '${t}\\.id' is not unique.*primary key or a unique constraint`),
        });
        assert.equal(api.dataApi.stats().calls, 1, 'only the catalog lookup ran');
        const rows = await stored(t, 'secret');
        assert.ok(
          rows.every(([, v]) => v?.startsWith(`rk1:${keyA.kid}:`)),
          'nothing was written',
        );
      });

      it('takes an id with a unique index on exactly it and NOT NULL, and refuses the near misses', async () => {
        const open = (table: string) => TableSql.open(runner(), { table, id: 'id', columns: ['secret'] });
        const unique = uniqueTableName('rk_uniq');
        await create(unique, '(id BIGINT NOT NULL, secret TEXT)');
        await exec(`CREATE UNIQUE INDEX ${unique}_id ON ${unique} (id)`);
        assert.ok(await open(unique));

        const nullable = uniqueTableName('rk_null');
        await create(nullable, '(id BIGINT UNIQUE, secret TEXT)');
        await assert.rejects(open(nullable), {
          name: 'ConfigError',
          message: new RegExp(`id column '${nullable}\\.id' allows NULL`),
        });

        const composite = uniqueTableName('rk_pair');
        await create(composite, '(id BIGINT NOT NULL, k INT NOT NULL, secret TEXT, PRIMARY KEY (id, k))');
        await assert.rejects(open(composite), { name: 'ConfigError', message: /is not unique/ });

        // A unique index that does not cover the whole column: partial (PostgreSQL), prefix (MySQL).
        const partial = uniqueTableName('rk_part');
        await create(partial, `(id VARCHAR(40) NOT NULL, secret TEXT${pg ? '' : ', UNIQUE KEY (id(4))'})`);
        if (pg) await exec(`CREATE UNIQUE INDEX ${partial}_id ON ${partial} (id) WHERE id > 'm'`);
        await assert.rejects(open(partial), { name: 'ConfigError', message: /is not unique/ });
      });
    });
  });
}
