import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Every .ts file under a top-level folder. */
function sources(folder: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) out.push(path);
    }
  };
  walk(join(ROOT, folder));
  return out;
}

/** The repository-relative files a source imports (relative specifiers only; packages are left out). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s+'(\.[^']+)'/g)].map(
    (m) => m[1] as string,
  );
  const dynamic = [...text.matchAll(/import\(\s*'(\.[^']+)'\s*\)/g)].map((m) => m[1] as string);
  return [...specifiers, ...dynamic].map((s) =>
    relative(ROOT, resolve(dirname(file), s)).replace(/\.js$/, '.ts'),
  );
}

/** Pairs `importer -> imported` among `folders` that break `allowed`. */
function violations(folders: readonly string[], allowed: (importer: string, imported: string) => boolean) {
  const found: string[] = [];
  for (const folder of folders) {
    for (const file of sources(folder)) {
      const importer = relative(ROOT, file);
      for (const imported of importsOf(file)) {
        if (!allowed(importer, imported)) found.push(`${importer} -> ${imported}`);
      }
    }
  }
  return found;
}

describe('the import rules', () => {
  it('lets code outside the core reach it only through lambda/index.ts (or run the deployed entry)', () => {
    // lambda/handler.ts is the Lambda's own entry: the benchmark runs it exactly as deployed.
    const doors = new Set(['lambda/index.ts', 'lambda/handler.ts']);
    const found = violations(
      ['bin', 'lib', 'local', 'bench'],
      (_, imported) => !imported.startsWith('lambda/') || doors.has(imported),
    );
    assert.deepEqual(found, []);
  });

  it('keeps the core free of imports from outside lambda/', () => {
    assert.deepEqual(
      violations(['lambda'], (_, imported) => imported.startsWith('lambda/')),
      [],
    );
  });

  it('keeps the local endpoints free of the constructs', () => {
    assert.deepEqual(
      violations(['local'], (_, imported) => !imported.startsWith('lib/')),
      [],
    );
  });

  it('finds a deep import when there is one (the rule can fail)', () => {
    const file = join(ROOT, 'bin/cli/abort.ts');
    assert.ok(importsOf(file).includes('lambda/index.ts'), importsOf(file).join(', '));
    const found = violations(['bin'], (_, imported) => imported !== 'lambda/index.ts');
    assert.ok(found.length > 0);
  });
});
