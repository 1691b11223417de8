#!/usr/bin/env -S npx tsx
import { parseArgs } from 'node:util';
import { DescribeSecretCommand, GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import {
  type ColumnCensus,
  memoryLog,
  planRotation,
  type StagedValue,
  systemClock,
  takeCensus,
  verifyAll,
} from '../lambda/index.js';
import { startLocal } from '../local/index.js';
import { table } from './cli/format.js';
import { renderPlanSummary } from './cli/plan.js';
import {
  createDemoSecret,
  engineSpec,
  installDemoRotation,
  rotateDemoSecret,
} from './demo/local-rotation.js';

const HELP = `npm run demo [-- --rows N] [-- --engine URL]

A whole rotation on a fresh machine: starts the local Secrets Manager and RDS Data API (embedded
PostgreSQL unless --engine names a postgres:// or mysql:// URL), creates a Redash-shaped schema with
Fernet-encrypted options and an rk1 table, creates the secret, enables rotation with RotateSecret, and
shows the rotation run through the unchanged Lambda code. Exits non-zero if anything is off.

  --rows N      rows in the rk1 table (default 20000)
  --engine URL  postgres://... or mysql://... instead of the embedded PostgreSQL
  -h, --help    this text
`;

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
    const { config, sm, db, secretId, firstValue, firstVersionId } = await createDemoSecret(local, rows, say);
    const scan = { db, clock: systemClock, log: memoryLog(), config, deadline: Number.POSITIVE_INFINITY };
    const before = await takeCensus(
      [{ label: 'current', versionId: firstVersionId, secretString: firstValue }],
      scan,
    );

    const log = installDemoRotation(local, config, out, say);
    // What the rotation will touch and cost, before it runs (`rekey plan` computes the same).
    const plan = await planRotation(
      [{ label: 'current', versionId: firstVersionId, secretString: firstValue }],
      scan,
      { secretId, rotationRules: { automaticallyAfterDays: 30 } },
    );
    for (const line of renderPlanSummary(plan)) say(line);
    say('RotateSecret: rotation enabled, every 30 days, rotating now');
    const newVersion = await rotateDemoSecret(sm, secretId);
    await local.secretsManager.idle();

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
      { label: 'previous', versionId: firstVersionId, secretString: firstValue },
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
          `${id}${id === newVersion ? ' (new)' : id === firstVersionId ? ' (first)' : ''}`,
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
