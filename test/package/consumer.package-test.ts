// The package as its users get it (`npm run test:package`, run by .ci/run after `npm test`): `npm pack`
// (whose prepack builds dist/), a new project that installs the tarball, then plain `node`, no tsx:
// an app that reads through the key ring against the local endpoints, the installed `rekey` CLI, and
// a CDK app that synthesizes the construct from the prebuilt asset. The reader app is run before
// aws-cdk-lib is installed, so it also shows that reading needs no CDK and no database driver.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const NPM_QUIET = ['--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'];

/** What `npm pack --json` says about the tarball. */
interface PackResult {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly entryCount: number;
  readonly files: readonly { readonly path: string }[];
}

function npm(args: readonly string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs `script` (an ES module written into the app) with plain node; its last stdout line is JSON. */
function runNode(app: string, name: string, script: string): unknown {
  writeFileSync(join(app, name), script);
  const run = spawnSync(process.execPath, [name], {
    cwd: app,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  });
  assert.equal(run.status, 0, `${name} failed:\n${run.stdout}\n${run.stderr}`);
  const lines = run.stdout.trim().split('\n');
  return JSON.parse(lines[lines.length - 1] ?? 'null');
}

const READER_APP = `
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { randomBytes } from 'node:crypto';
import { KeyRing } from 'rekey/reader';
import { createEngine, startLocal } from 'rekey/local';

const local = await startLocal();
try {
  const client = new SecretsManagerClient({
    endpoint: local.secretsManagerUrl,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const key = randomBytes(32).toString('base64');
  await client.send(new CreateSecretCommand({ Name: 'app/key', SecretString: JSON.stringify({ encryptionKey: key }) }));
  const ring = await KeyRing.load({ client, secretId: 'app/key', codec: 'rk1', dataKeyField: 'encryptionKey' });
  const field = { table: 'data_sources', column: 'options' };
  const stored = await ring.encrypt('{"password":"hunter2"}', field);
  const plain = await ring.decryptString(stored, field);
  let missingDriver;
  try {
    await createEngine({ postgresUrl: 'postgres://127.0.0.1:1/none' });
  } catch (error) {
    missingDriver = { name: error.name, packageName: error.packageName, message: error.message };
  }
  console.log(JSON.stringify({ stored, plain, missingDriver }));
} finally {
  await local.close();
}
`;

const CDK_APP = `
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { AppSecretRotation } from 'rekey';

const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'Consumer', { env: { account: '123456789012', region: 'eu-west-1' } });
new AppSecretRotation(stack, 'Rotation', {
  settings: {
    secretTemplate: { encryptionKey: { kind: 'aes-256' } },
    dataKeyField: 'encryptionKey',
    storedFields: [{ table: 'data_sources', id: 'id', columns: ['options'] }],
  },
  clusterArn: 'arn:aws:rds:eu-west-1:123456789012:cluster:app',
  credentialsSecret: Secret.fromSecretCompleteArn(
    stack,
    'Db',
    'arn:aws:secretsmanager:eu-west-1:123456789012:secret:app-db-AbCdEf',
  ),
  databaseName: 'app',
  engine: 'postgres',
  adminPrincipalArns: ['arn:aws:iam::123456789012:role/rekey-admin'],
});
const assembly = app.synth();
const template = assembly.getStackByName('Consumer').template;
const functions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
// The asset manifest says where each file asset was staged.
const manifest = JSON.parse(readFileSync(join(assembly.directory, 'Consumer.assets.json'), 'utf8'));
const assetDirs = Object.values(manifest.files)
  .filter((a) => a.source.packaging === 'zip')
  .map((a) => join(assembly.directory, a.source.path));
console.log(JSON.stringify({
  functions: functions.map((f) => ({ handler: f.Properties.Handler, runtime: f.Properties.Runtime, code: f.Properties.Code })),
  assetFiles: assetDirs.map((dir) => readdirSync(dir).sort()),
}));
`;

/** A TypeScript consumer of all three entries' types (checked with this repository's tsc). */
const TYPED_APP = `
import type { Stack } from 'aws-cdk-lib';
import { AppSecretRotation, type AppSecretRotationProps } from 'rekey';
import { type LocalEndpoints, startLocal } from 'rekey/local';
import { KeyRing, type KeyRingOptions } from 'rekey/reader';

export function add(stack: Stack, props: AppSecretRotationProps): AppSecretRotation {
  return new AppSecretRotation(stack, 'Rotation', props);
}
export async function ring(options: KeyRingOptions): Promise<string> {
  const local: LocalEndpoints = await startLocal();
  await local.close();
  return (await KeyRing.load(options)).encrypt('x', { table: 't', column: 'c' });
}
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    noEmit: true,
    // As most CDK apps: PGlite's own declarations do not check on their own.
    skipLibCheck: true,
    types: ['node'],
    typeRoots: [join(ROOT, 'node_modules/@types')],
  },
  files: ['app.ts'],
};

describe('the packed package, installed in a new project and run with plain node', () => {
  let work: string;
  let app: string;
  let pack: PackResult;

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'rekey-package-'));
    app = join(work, 'app');
    mkdirSync(app);
    const out = npm(['pack', '--json', '--pack-destination', work], ROOT);
    // prepack's build prints before npm's JSON.
    pack = (JSON.parse(out.slice(out.search(/^\[/m))) as PackResult[])[0] as PackResult;
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify({ name: 'rekey-consumer', private: true, type: 'module' }, null, 2),
    );
    npm(['install', join(work, pack.filename), ...NPM_QUIET], app);
  });

  after(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('ships the built JavaScript, its declarations, the prebuilt asset and the docs, and no sources', (t) => {
    t.diagnostic(
      `tarball ${pack.filename}: ${(pack.size / 1024).toFixed(0)} KiB, ` +
        `${(pack.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${pack.entryCount} files`,
    );
    const paths = pack.files.map((f) => f.path);
    for (const path of [
      'dist/lib/index.js',
      'dist/lib/index.d.ts',
      'dist/lambda/reader.js',
      'dist/lambda/reader.d.ts',
      'dist/local/index.js',
      'dist/bin/rekey.js',
      'dist/rotation-asset/index.mjs',
      'dist/rotation-asset/index.mjs.map',
      'README.md',
      'LICENSE',
      'docs/ciphertext.md',
    ]) {
      assert.ok(paths.includes(path), `${path} is missing`);
    }
    const unwanted = paths.filter((p) => /^(test|bench)\/|\.test\.|(?<!\.d)\.ts$/.test(p));
    assert.deepEqual(unwanted, []);
  });

  it('declares types only from packages it depends on or names as peers', () => {
    const declared = new Set([...Object.keys(PKG.dependencies), ...Object.keys(PKG.peerDependencies)]);
    const stray = new Set<string>();
    for (const file of pack.files.map((f) => f.path).filter((p) => p.endsWith('.d.ts'))) {
      const text = readFileSync(join(app, 'node_modules/rekey', file), 'utf8');
      for (const [, specifier] of text.matchAll(/(?:from\s+|import\()'([^.'][^']*)'/g)) {
        const name = (specifier as string).startsWith('@')
          ? (specifier as string).split('/').slice(0, 2).join('/')
          : ((specifier as string).split('/')[0] as string);
        if (!name.startsWith('node:') && !isBuiltin(name) && !declared.has(name))
          stray.add(`${file}: ${name}`);
      }
    }
    assert.deepEqual([...stray], []);
  });

  it('installs neither aws-cdk-lib nor a database driver for an app that only reads', () => {
    for (const name of ['aws-cdk-lib', 'constructs', 'pg', 'mysql2']) {
      assert.equal(existsSync(join(app, 'node_modules', name)), false, `${name} was installed`);
    }
  });

  it('round-trips a value through rekey/reader against the endpoints of rekey/local', () => {
    const result = runNode(app, 'reader.mjs', READER_APP) as {
      stored: string;
      plain: string;
      missingDriver?: { name: string; packageName: string; message: string };
    };
    assert.match(result.stored, /^rk1:[^:]+:/);
    assert.equal(result.plain, '{"password":"hunter2"}');
    // The PostgreSQL engine needs pg, which this app does not have: the error says what to install.
    assert.equal(result.missingDriver?.name, 'MissingDriverError');
    assert.equal(result.missingDriver?.packageName, 'pg');
    assert.match(result.missingDriver?.message ?? '', /npm install pg/);
  });

  it('runs the installed rekey command', () => {
    const run = spawnSync(join(app, 'node_modules/.bin/rekey'), ['--help'], { cwd: app, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^Usage: rekey /m);
  });

  it('synthesizes a CDK app that adds AppSecretRotation, deploying the prebuilt asset', () => {
    const peers = ['aws-cdk-lib', 'constructs'].map((name) => `${name}@${PKG.devDependencies[name]}`);
    npm(['install', ...peers, ...NPM_QUIET], app);
    const result = runNode(app, 'synth.mjs', CDK_APP) as {
      functions: { handler: string; runtime: string; code: { S3Key?: unknown } }[];
      assetFiles: string[][];
    };
    assert.equal(result.functions.length, 1);
    assert.equal(result.functions[0]?.handler, 'index.handler');
    assert.equal(result.functions[0]?.runtime, 'nodejs24.x');
    assert.match(String(result.functions[0]?.code.S3Key), /^[0-9a-f]{64}\.zip$/);
    assert.deepEqual(result.assetFiles, [['index.mjs', 'index.mjs.map']]);
    // Neither esbuild nor a lock file was needed.
    assert.equal(existsSync(join(app, 'node_modules', 'esbuild')), false);
  });

  it('gives TypeScript apps the declarations of every entry', () => {
    writeFileSync(join(app, 'app.ts'), TYPED_APP);
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
    const run = spawnSync(join(ROOT, 'node_modules/.bin/tsc'), ['-p', '.'], { cwd: app, encoding: 'utf8' });
    assert.equal(run.status, 0, run.stdout + run.stderr);
  });
});
