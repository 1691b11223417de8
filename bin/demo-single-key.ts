#!/usr/bin/env -S npx tsx
import { parseArgs } from 'node:util';
import {
  type KeySource,
  ReadLoop,
  type ReadTarget,
  type ReadWindow,
  type SingleKeyAppConfig,
  SingleKeyService,
  startLocal,
} from '../local/index.js';
import { table } from './cli/format.js';
import {
  createDemoSecret,
  engineSpec,
  installDemoRotation,
  rotateDemoSecret,
} from './demo/local-rotation.js';
import { bundleSingleKeyApp } from './demo/single-key-bundle.js';

const HELP = `npm run demo:single-key [-- --rows N] [-- --engine URL] [-- --read-interval-ms MS]

Single-key apps following a rotation: the demo's schema and secret (as npm run demo), and two apps that
each hold ONE key, read from their environment when their process starts, as Redash reads
REDASH_SECRET_KEY. They read stored rows continuously while the secret rotates. Once the new version is
AWSCURRENT, the local Secrets Manager's promotion hook restarts each app (a new process with the new
value, then the old one stopped), as the deployed wiring rolls ECS services. Shows each app's failed
reads and its window, from the first failed read (the first moved page reached it) to the first
successful read after the restart, and what the window is made of. Exits non-zero if an app was not
restarted, failed a read after its restart, or cannot read every row afterwards.

  --rows N               rows in the rk1 table (default 20000)
  --engine URL           postgres://... or mysql://... instead of the embedded PostgreSQL
  --read-interval-ms MS  pause between two reads of one app (default 5)
  -h, --help             this text
`;

/** The two apps: Redash itself, and an app that gets the whole secret and uses one field of it. */
interface DemoApp {
  readonly name: string;
  readonly key: KeySource;
  readonly codec: SingleKeyAppConfig['codec'];
  readonly tables: readonly { readonly table: string; readonly column: string; readonly ids: number[] }[];
}

const SECONDS = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      rows: { type: 'string', default: '20000' },
      engine: { type: 'string' },
      'read-interval-ms': { type: 'string', default: '5' },
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
  const intervalMs = Number(values['read-interval-ms']);
  if (!Number.isInteger(intervalMs) || intervalMs < 0)
    throw new Error(`--read-interval-ms must be a non-negative integer, got '${values['read-interval-ms']}'`);
  const out = process.stdout;
  const say = (line = '') => out.write(`${line}\n`);

  say(
    `rekey single-key demo: starting the local endpoints on ${values.engine ? 'the given database' : 'an embedded PostgreSQL'}`,
  );
  const local = await startLocal({ engine: engineSpec(values.engine) });
  const services: SingleKeyService[] = [];
  const loops: ReadLoop[] = [];
  let bundle: Awaited<ReturnType<typeof bundleSingleKeyApp>> | undefined;
  try {
    const { sm, secretId, config } = await createDemoSecret(local, rows, say);
    // The demo schema's ids: Redash's tables count from 1, the rk1 table goes in steps of 3.
    const range = (n: number, step = 1) => Array.from({ length: n }, (_, i) => (i + 1) * step);
    const apps: DemoApp[] = [
      {
        name: 'redash',
        key: { env: 'REDASH_SECRET_KEY', field: 'redashSecretKey' },
        codec: 'fernet-sha256',
        tables: [
          { table: 'data_sources', column: 'encrypted_options', ids: range(50) },
          { table: 'notification_destinations', column: 'encrypted_options', ids: range(20) },
        ],
      },
      {
        name: 'rk1-app',
        key: { env: 'APP_SECRET', field: 'encryptionKey', inject: 'secret' },
        codec: 'rk1',
        tables: [{ table: 'app_secrets', column: 'payload', ids: range(rows, 3) }],
      },
    ];

    bundle = await bundleSingleKeyApp();
    say('starting the single-key apps (bundled, plain node): one process each, its key from its environment');
    for (const app of apps) {
      const service = await SingleKeyService.start({
        secretsManager: local.secretsManager,
        secretId,
        key: app.key,
        app: {
          codec: app.codec,
          fields: app.tables.map((t) => ({ table: t.table, id: 'id', column: t.column })),
          dataApi: config.dataApi,
        },
        dataApiUrl: local.dataApiUrl,
        entry: bundle.entry,
      });
      services.push(service);
      const first = service.current();
      say(
        `  ${app.name.padEnd(8)} ${describeKey(app.key).padEnd(48)} pid ${first.pid}, ready in ${first.readyAt - first.spawnedAt} ms`,
      );
    }

    // The promotion hooks: the restarts, and a note of when the promotion happened.
    let promotedAt: number | undefined;
    local.secretsManager.onPromotion((event) => {
      promotedAt ??= Date.parse(event.time);
    }, 'note-promotion');
    for (const [i, app] of apps.entries())
      local.secretsManager.onPromotion(
        (services[i] as SingleKeyService).restartHook(),
        `restart-${app.name}`,
      );
    local.secretsManager.onPromotionHookReport((r) => {
      if (r.hook !== 'note-promotion')
        say(
          `  promotion hook ${r.hook}: ${r.outcome}${r.error ? ` (${r.error.name}: ${r.error.message})` : ''}`,
        );
    });

    installDemoRotation(local, config, out, say);
    const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
    for (const [i, app] of apps.entries()) {
      const targets = shuffled(
        app.tables.flatMap((t) => t.ids.map((id): ReadTarget => ({ table: t.table, id }))),
      );
      loops.push(new ReadLoop(services[i] as SingleKeyService, targets, sleep, intervalMs));
    }
    say(`reading continuously: each app one read at a time, in random order, ${intervalMs} ms apart`);

    const rotatedAt = Date.now();
    say('RotateSecret: rotating now');
    await rotateDemoSecret(sm, secretId);
    await local.secretsManager.idle();
    await local.secretsManager.promotionHooksIdle();
    // Each restarted app answers a few more reads, so its first successful one is on record.
    const followed = await Promise.all(
      loops.map((loop) =>
        withTimeout(
          loop.until((r) => r.outcome === 'ok' && r.generation >= 1),
          30_000,
        ),
      ),
    );
    await Promise.all(loops.map((loop) => withTimeout(loop.until(nth(20)), 30_000)));
    const windows = await Promise.all(loops.splice(0).map((loop) => loop.stop()));

    say();
    say('The window of each single-key app (times from RotateSecret)');
    say(windowTable(apps, services, windows, rotatedAt, promotedAt));
    say();
    for (const [i, app] of apps.entries()) {
      const w = windows[i] as ReadWindow;
      const restarted = (services[i] as SingleKeyService).instances()[w.restartedGeneration ?? -1];
      if (w.firstFailedAt === undefined || promotedAt === undefined || !restarted) continue;
      say(
        `${app.name}: ${SECONDS(w.windowMs)} = ${SECONDS(promotedAt - w.firstFailedAt)} from its first moved page to the promotion (the rest of setSecret, testSecret, finishSecret) + ${SECONDS((w.firstOkAfterRestartAt ?? promotedAt) - promotedAt)} from the promotion to its first good read (the hook, a new process: ready in ${restarted.readyAt - restarted.spawnedAt} ms)`,
      );
    }

    say();
    let ok = followed.every(Boolean);
    const checks: string[] = [];
    for (const [i, app] of apps.entries()) {
      const service = services[i] as SingleKeyService;
      const w = windows[i] as ReadWindow;
      ok &&= w.restartedGeneration !== undefined && w.failedAfterRestart === 0;
      for (const t of app.tables) {
        const read = await service.readAll(t.table);
        ok &&= read.generation >= 1 && read.rows === t.ids.length && read.undecryptable === 0;
        checks.push(`${t.table} ${read.rows - read.undecryptable}/${t.ids.length}`);
      }
    }
    const hookFailures = local.secretsManager.promotionHookReports().filter((r) => r.outcome === 'failed');
    ok &&= hookFailures.length === 0;
    say(`Check: the restarted apps read every row: ${checks.join(', ')}`);
    say(
      ok
        ? 'OK: every app restarted on the promotion and reads every row with the new key'
        : 'FAILED: see above',
    );
    sm.destroy();
    return ok ? 0 : 1;
  } finally {
    await Promise.all(loops.map((loop) => loop.stop()));
    await Promise.all(services.map((s) => s.stop()));
    await local.close();
    bundle?.remove();
  }
}

function describeKey(key: KeySource): string {
  return key.inject === 'secret'
    ? `${key.env}=the whole secret (field ${key.field})`
    : `${key.env}=the secret's field ${key.field}`;
}

function windowTable(
  apps: readonly DemoApp[],
  services: readonly SingleKeyService[],
  windows: readonly ReadWindow[],
  rotatedAt: number,
  promotedAt: number | undefined,
): string {
  const at = (t: number | undefined) => (t === undefined ? '-' : `+${SECONDS(t - rotatedAt)}`);
  return table(
    [
      'app',
      'reads',
      'failed',
      'failed after restart',
      'first failed',
      'promoted',
      'new process ready',
      'first ok after',
      'window',
    ],
    apps.map((app, i) => {
      const w = windows[i] as ReadWindow;
      const restarted = services[i]?.instances()[w.restartedGeneration ?? -1];
      return [
        app.name,
        String(w.reads),
        String(w.failed),
        String(w.failedAfterRestart),
        at(w.firstFailedAt),
        at(promotedAt),
        at(restarted?.readyAt),
        at(w.firstOkAfterRestartAt),
        SECONDS(w.windowMs),
      ];
    }),
  );
}

/** A Fisher-Yates shuffle: reads hit rows in no particular order, as an app's users do. */
function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

const nth = (n: number) => {
  let seen = 0;
  return () => ++seen >= n;
};

/** Whether `promise` settled within `ms` (the demo must end even if an app never comes back). */
async function withTimeout(promise: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([promise.then(() => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`demo failed: ${error.name}: ${error.message}\n`);
    process.exit(2);
  },
);
