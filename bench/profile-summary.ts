/**
 * `tsx bench/profile-summary.ts <file.cpuprofile>...`: where a step's CPU went, from the profiles that
 * `npm run bench -- --profile setSecret` writes. Prints self time by function and by package (the
 * bundles keep `node_modules/<package>` in their source paths only as comments, so functions are
 * grouped by the package comment esbuild leaves above each module, else by name).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Self time per function (name and line) and in total, in ms. */
export function selfTimes(profile: CpuProfile): { totalMs: number; byFunction: Map<string, number> } {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byFunction = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const frame = nodes.get(id)?.callFrame;
    const name = frame
      ? `${frame.functionName || '(anonymous)'} ${frame.url.split('/').pop() ?? ''}:${frame.lineNumber + 1}`
      : '?';
    byFunction.set(name, (byFunction.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return { totalMs: (profile.endTime - profile.startTime) / 1000, byFunction };
}

/** The bundle's module comments (`// node_modules/pg/lib/client.js`) as line ranges, to name owners. */
function moduleRanges(bundle: string): { line: number; module: string }[] {
  const ranges: { line: number; module: string }[] = [];
  bundle.split('\n').forEach((text, i) => {
    const m = /^\/\/ (\S+\.[cm]?[jt]s)$/.exec(text);
    if (m?.[1]) {
      const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(m[1])?.[1] ?? m[1];
      ranges.push({ line: i + 1, module: pkg });
    }
  });
  return ranges;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [bundle.mjs]');
  process.exit(2);
}
const bundleFile = files.find((f) => f.endsWith('.mjs'));
const ranges = bundleFile ? moduleRanges(readFileSync(bundleFile, 'utf8')) : [];
for (const file of files.filter((f) => f.endsWith('.cpuprofile'))) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const { totalMs, byFunction } = selfTimes(profile);
  const byModule = new Map<string, number>();
  for (const [name, ms] of byFunction) {
    const line = Number(/:(\d+)$/.exec(name)?.[1] ?? 0);
    let owner = name.startsWith('(') ? (name.split(' ')[0] ?? name) : 'node internals / native';
    if (name.includes('.mjs:')) {
      owner = '?';
      for (const r of ranges) if (r.line <= line) owner = r.module;
    }
    byModule.set(owner, (byModule.get(owner) ?? 0) + ms);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(
        ([k, v]) =>
          `  ${v.toFixed(0).padStart(7)} ms  ${((v / totalMs) * 100).toFixed(1).padStart(5)}%  ${k}`,
      )
      .join('\n');
  console.log(
    `${file}: ${totalMs.toFixed(0)} ms profiled\nby module:\n${top(byModule, 18)}\nby function:\n${top(byFunction, 30)}\n`,
  );
}
