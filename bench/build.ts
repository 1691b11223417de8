import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { ROTATION_BUNDLE, ROTATION_ENTRY } from '../lib/bundle-settings.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The benchmark's process entries: the deployed settings, but readable (profiles name functions). */
const ENTRY_BUILD: BuildOptions = {
  ...ROTATION_BUNDLE,
  minify: false,
  sourcemap: false,
  keepNames: true,
  // node-postgres loads its optional native binding and Cloudflare socket lazily; neither is used.
  external: ['pg-native', 'cloudflare:sockets'],
};

/** The Lambda bundle and what it is made of. */
export interface LambdaBundle {
  readonly file: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  /** The largest contributors, by bytes in the output. */
  readonly largest: readonly { readonly name: string; readonly bytes: number }[];
}

/** The processes the benchmark runs, as bundles so a process starts as a Lambda would: no transpiler. */
export interface BenchBundles {
  readonly lambda: LambdaBundle;
  /** Runs lambda/handler.ts for one rotation step (not minified, so profiles name functions). */
  readonly stepLambda: string;
  /** The same rotation function over a direct PostgreSQL connection. */
  readonly stepDirect: string;
  readonly baseline: string;
  /** The application beside a rotation (bench/app-loop-worker.ts). */
  readonly appLoop: string;
}

/**
 * Bundles lambda/handler.ts as deployed (lib/bundle-settings.ts: minified, ESM, nothing external)
 * and the benchmark's process entries into `dir`.
 * @throws esbuild's error when a bundle fails.
 */
export async function buildBundles(dir: string): Promise<BenchBundles> {
  const lambdaFile = join(dir, 'handler.mjs');
  // Exactly as deployed (lib/bundle-settings.ts), source map included.
  const result = await build({
    ...ROTATION_BUNDLE,
    entryPoints: [ROTATION_ENTRY],
    outfile: lambdaFile,
    metafile: true,
  });
  const code = readFileSync(lambdaFile);
  const entries = async (name: string) => {
    const file = join(dir, `${name}.mjs`);
    await build({ ...ENTRY_BUILD, entryPoints: [join(ROOT, `bench/${name}.ts`)], outfile: file });
    return file;
  };
  return {
    lambda: {
      file: lambdaFile,
      bytes: code.length,
      gzipBytes: gzipSync(code, { level: 9 }).length,
      largest: largestPackages(result.metafile, lambdaFile),
    },
    stepLambda: await entries('step-lambda'),
    stepDirect: await entries('step-direct'),
    baseline: await entries('baseline-worker'),
    appLoop: await entries('app-loop-worker'),
  };
}

function largestPackages(meta: Metafile, outfile: string): { name: string; bytes: number }[] {
  const name = basename(outfile);
  const output = Object.entries(meta.outputs).find(([path]) => basename(path) === name)?.[1];
  const sizes = new Map<string, number>();
  for (const [path, input] of Object.entries(output?.inputs ?? {})) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const pkg = m?.[1] ?? (path.includes('lambda/') ? 'lambda/ (rekey)' : path);
    sizes.set(pkg, (sizes.get(pkg) ?? 0) + input.bytesInOutput);
  }
  return [...sizes.entries()]
    .map(([name, bytes]) => ({ name, bytes }))
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 6);
}
