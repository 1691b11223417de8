import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build, type Metafile } from 'esbuild';
import { ROTATION_NODE_MAJOR } from '../../lib/bundle-settings.js';
import { ROTATION_RUNTIME } from '../../lib/rotation-function.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What the package's entries must never load, so that each audience installs only what it uses. */
const CDK = ['aws-cdk-lib', 'constructs'];
const DRIVERS = ['pg', 'mysql2', '@electric-sql/pglite'];

/** The esbuild metafile of `entry` bundled with everything it imports, packages included. */
async function graphOf(entry: string): Promise<Metafile> {
  const result = await build({
    entryPoints: [`${ROOT}${entry}`],
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    outdir: '/tmp/rekey-entry-graphs',
    metafile: true,
    logLevel: 'silent',
    // Seen at the edge rather than bundled (aws-cdk-lib alone takes seconds); node-postgres's optional
    // native binding and Cloudflare socket are not installed and never loaded.
    external: ['aws-cdk-lib', 'constructs', 'pg-native', 'cloudflare:sockets'],
  });
  return result.metafile;
}

/** The packages reached from `entry`, following static imports only or also `import()`. */
function packagesReached(meta: Metafile, entry: string, follow: 'static' | 'all'): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (seen.has(path)) continue;
    seen.add(path);
    for (const edge of meta.inputs[path]?.imports ?? []) {
      if (follow === 'static' && edge.kind === 'dynamic-import') continue;
      if (edge.external) packages.add(packageOf(edge.path));
      else pending.push(edge.path);
    }
  }
  for (const path of seen) {
    const name = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1];
    if (name) packages.add(name);
  }
  return packages;
}

/** `aws-cdk-lib/aws-iam` → `aws-cdk-lib`, `@aws-sdk/x/y` → `@aws-sdk/x`. */
function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

function forbidden(packages: Set<string>, names: readonly string[]): string[] {
  return names.filter((name) => packages.has(name));
}

describe('the package entries', () => {
  it('keeps rekey/reader free of aws-cdk-lib, constructs and every database driver, even lazily', async () => {
    const meta = await graphOf('lambda/reader.ts');
    const reached = packagesReached(meta, 'lambda/reader.ts', 'all');
    assert.deepEqual(forbidden(reached, [...CDK, ...DRIVERS]), []);
    // The graph is real: the reader does load the Secrets Manager client.
    assert.ok(reached.has('@aws-sdk/client-secrets-manager'), [...reached].join(', '));
  });

  it('loads pg and mysql2 from rekey/local only when their engine is asked for', async () => {
    const meta = await graphOf('local/index.ts');
    const eager = packagesReached(meta, 'local/index.ts', 'static');
    assert.deepEqual(forbidden(eager, [...CDK, 'pg', 'mysql2']), []);
    // PGlite, the embedded default, is a dependency and loads eagerly; the drivers are behind import().
    assert.ok(eager.has('@electric-sql/pglite'), [...eager].join(', '));
    const lazy = packagesReached(meta, 'local/index.ts', 'all');
    assert.deepEqual(forbidden(lazy, ['pg', 'mysql2']), ['pg', 'mysql2']);
  });

  it('keeps the construct library free of database drivers and of esbuild', async () => {
    const meta = await graphOf('lib/index.ts');
    const reached = packagesReached(meta, 'lib/index.ts', 'all');
    assert.deepEqual(forbidden(reached, [...DRIVERS, 'esbuild']), []);
    assert.ok(reached.has('aws-cdk-lib'), [...reached].join(', '));
  });

  it('bundles the rotation function for the Node.js version of its Lambda runtime', () => {
    assert.equal(ROTATION_RUNTIME.name, `nodejs${ROTATION_NODE_MAJOR}.x`);
  });
});
