#!/usr/bin/env -S npx tsx
import { parseArgs } from 'node:util';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  RotateSecretCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  type ColumnCensus,
  createDeps,
  dataApiRunner,
  generateSecretValue,
  memoryLog,
  parseConfig,
  planRotation,
  rotationFunction,
  type StagedValue,
  systemClock,
  takeCensus,
  verifyAll,
} from '../lambda/index.js';
import { type EngineSpec, inProcessInvoker, startLocal } from '../local/index.js';
import { table } from './cli/format.js';
import { renderPlanSummary } from './cli/plan.js';
import { progressReporter } from './cli/progress.js';
import { DEMO_STORED_FIELDS, DEMO_TEMPLATE, seedDemo } from './demo/schema.js';

const HELP = `npm run demo [-- --rows N] [-- --engine URL]

A whole rotation on a fresh machine: starts the local Secrets Manager and RDS Data API (embedded
PostgreSQL unless --engine names a postgres:// or mysql:// URL), creates a Redash-shaped schema with
Fernet-encrypted options and an rk1 table, creates the secret, enables rotation with RotateSecret, and
shows the rotation run through the unchanged Lambda code. Exits non-zero if anything is off.

  --rows N      rows in the rk1 table (default 20000)
  --engine URL  postgres://... or mysql://... instead of the embedded PostgreSQL
  -h, --help    this text
`;

const LAMBDA_ARN = 'arn:aws:lambda:us-east-1:000000000000:function:rekey-rotation';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '20000' },
      engine: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const rows = Number(values.rows);
  if (!Number.isInteger(rows) || rows < 1)
    throw new Error(`--rows must be a positive integer, got '${values.rows}'`);
  const engine = engineSpec(values.engine);
  const out = process.stdout;
  const say = (line = '') => out.write(`${line}\n`);
  const started = Date.now();

  say(
    `rekey demo: starting the local endpoints on ${values.engine ? 'the given database' : 'an embedded PostgreSQL'}`,
  );
  const local = await startLocal({ engine });
  try {
    const dialect = local.engine.dialect;
    const config = parseConfig({
      secretTemplate: DEMO_TEMPLATE,
      dataKeyField: 'encryptionKey',
      codec: 'rk1',
      storedFields: DEMO_STORED_FIELDS,
      dataApi: { ...local.dataApiTarget, engine: dialect },
    });
    const clientOptions = {
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    };
    const sm = new SecretsManagerClient({ ...clientOptions, endpoint: local.secretsManagerUrl });
    const db = dataApiRunner(
      new RDSDataClient({ ...clientOptions, endpoint: local.dataApiUrl }),
      config.dataApi,
    );

    const firstValue = generateSecretValue(config.secretTemplate);
    say(
      `seeding data_sources and notification_destinations (Fernet in ${dialect === 'mysql' ? 'LONGBLOB' : 'BYTEA'}, as Redash stores them) and ${rows} rk1 rows, through the Data API`,
    );
    await seedDemo(db, config, firstValue, rows);
    const created = await sm.send(
      new CreateSecretCommand({ Name: 'rekey-demo/app', SecretString: firstValue }),
    );
    const secretId = created.ARN as string;
    const scan = { db, clock: systemClock, log: memoryLog(), config, deadline: Number.POSITIVE_INFINITY };
    const before = await takeCensus(
      [{ label: 'current', versionId: created.VersionId as string, secretString: firstValue }],
      scan,
    );

    const log = memoryLog();
    const progress = progressReporter(out);
    const deps = createDeps(config, {
      ...clientOptions,
      secretsManagerEndpoint: local.secretsManagerUrl,
      dataApiEndpoint: local.dataApiUrl,
      log,
    });
    let sink = progress.phase('setSecret');
    const rotation = rotationFunction({ ...deps, progress: (p) => sink(p) });
    local.secretsManager.setInvoker(
      inProcessInvoker(async (event, context) => {
        const stepStarted = Date.now();
        sink = progress.phase(event.Step);
        try {
          await rotation(event, context);
        } finally {
          progress.end();
        }
        say(`  ${event.Step.padEnd(12)} done in ${Date.now() - stepStarted} ms`);
      }),
    );
    // What the rotation will touch and cost, before it runs (`rekey plan` computes the same).
    const plan = await planRotation(
      [{ label: 'current', versionId: created.VersionId as string, secretString: firstValue }],
      scan,
      { secretId, rotationRules: { automaticallyAfterDays: 30 } },
    );
    for (const line of renderPlanSummary(plan)) say(line);
    say('RotateSecret: rotation enabled, every 30 days, rotating now');
    const rotate = await sm.send(
      new RotateSecretCommand({
        SecretId: secretId,
        RotationLambdaARN: LAMBDA_ARN,
        RotationRules: { AutomaticallyAfterDays: 30 },
        RotateImmediately: true,
      }),
    );
    await local.secretsManager.idle();
    const newVersion = rotate.VersionId as string;

    const described = await sm.send(new DescribeSecretCommand({ SecretId: secretId }));
    const stages = described.VersionIdsToStages ?? {};
    const current = await sm.send(
      new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }),
    );
    const staged: StagedValue[] = [
      {
        label: 'current',
        versionId: current.VersionId as string,
        secretString: current.SecretString as string,
      },
      { label: 'previous', versionId: created.VersionId as string, secretString: firstValue },
    ];
    const after = await takeCensus(staged, scan);
    const verified = await verifyAll({ target: current.SecretString as string, sources: [firstValue] }, scan);

    say();
    say('Rows per key version');
    say(censusTable(before, after));
    say();
    say('Staging labels');
    say(
      table(
        ['version', 'labels'],
        Object.entries(stages).map(([id, labels]) => [
          `${id}${id === newVersion ? ' (new)' : id === created.VersionId ? ' (first)' : ''}`,
          (labels ?? []).join(', '),
        ]),
      ),
    );
    const unreadable = verified.reduce((s, c) => s + c.offTarget + c.plaintext + c.undecryptable, 0);
    const checked = verified.reduce((s, c) => s + c.rows, 0);
    const rotationEvents = local.secretsManager.events().map((e) => e.type);
    const promoted = current.VersionId === newVersion;
    say();
    say(`Check: ${checked - unreadable} of ${checked} stored fields decrypt with the new AWSCURRENT`);
    say(`Rotation events: ${rotationEvents.join(', ')}`);
    const ok = promoted && unreadable === 0 && rotationEvents.at(-1) === 'RotationSucceeded';
    if (!ok) {
      for (const e of log.entries.filter((x) => x.level === 'error')) {
        say(
          `  error: ${(e.fields as { error?: string; message?: string } | undefined)?.message ?? e.message}`,
        );
      }
    }
    say(
      ok
        ? `OK: rotated in ${((Date.now() - started) / 1000).toFixed(1)} s, nothing lost`
        : 'FAILED: see above',
    );
    sm.destroy();
    return ok ? 0 : 1;
  } finally {
    await local.close();
  }
}

function engineSpec(url: string | undefined): EngineSpec {
  if (!url) return 'pglite';
  if (/^postgres(ql)?:\/\//.test(url)) return { postgresUrl: url };
  if (/^mysql:\/\//.test(url)) return { mysqlUrl: url };
  throw new Error(
    `--engine must be a postgres:// or mysql:// URL, got '${url.replace(/:[^:@/]*@/, ':***@')}'`,
  );
}

function censusTable(before: readonly ColumnCensus[], after: readonly ColumnCensus[]): string {
  const rows = before.map((b) => {
    const a = after.find((x) => x.table === b.table && x.column === b.column);
    return [
      `${b.table}.${b.column}`,
      b.codec,
      String(b.current),
      String(a?.previous ?? 0),
      String(a?.current ?? 0),
      String((a?.unknown ?? 0) + (a?.plaintext ?? 0)),
    ];
  });
  return table(
    ['column', 'codec', 'before: first key', 'after: first key', 'after: new key', 'unreadable'],
    rows,
  );
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`demo failed: ${error.name}: ${error.message}\n`);
    process.exit(2);
  },
);
