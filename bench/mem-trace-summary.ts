/**
 * `tsx bench/mem-trace-summary.ts <trace.jsonl> [windows]`: summarises a step process's memory trace
 * (BENCH_MEM_TRACE, see bench/step-process.ts) in time windows, in MiB: peak RSS, the anonymous RSS
 * range, V8's old space (used after a mark-compact is the live set, so a flat minimum means nothing is
 * retained per page), ArrayBuffers (Buffers waiting for a mark-compact), and where the resident memory
 * is by mapping kind (brk = glibc's main arena; anon1-16m holds glibc's thread arenas; anon256k V8's
 * pages).
 */
import { readFileSync } from 'node:fs';

interface Sample {
  t: number;
  rss: number;
  anon: number;
  heapTotal: number;
  arrayBuffers: number;
  spaces: Record<string, [number, number]>;
  maps?: Record<string, number>;
}

const [file, windowsArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/mem-trace-summary.ts <trace.jsonl> [windows]');
  process.exit(2);
}
const samples = readFileSync(file, 'utf8')
  .split('\n')
  .filter((l) => l.trim())
  .map((l) => JSON.parse(l) as Sample);
const windows = Number(windowsArg ?? 10);
const end = samples.at(-1)?.t ?? 0;
const mib = (kb: number) => (kb / 1024).toFixed(0).padStart(4);
const range = (values: number[]) => `${mib(Math.min(...values))}-${mib(Math.max(...values))}`;
console.log(
  'window (s)      peak RSS  anon      heapTotal  old used  ArrayBuffers  resident by mapping (last sample with maps)',
);
for (let w = 0; w < windows; w++) {
  const part = samples.filter((s) => s.t >= (w * end) / windows && s.t <= ((w + 1) * end) / windows);
  if (part.length === 0) continue;
  const maps = part.filter((s) => s.maps).at(-1)?.maps;
  console.log(
    [
      `${((part[0]?.t ?? 0) / 1000).toFixed(1).padStart(6)}-${((part.at(-1)?.t ?? 0) / 1000).toFixed(1).padStart(6)}`,
      mib(Math.max(...part.map((s) => s.rss))),
      range(part.map((s) => s.anon)),
      mib(Math.max(...part.map((s) => s.heapTotal))),
      range(part.map((s) => s.spaces.old?.[1] ?? 0)),
      range(part.map((s) => s.arrayBuffers)),
      maps
        ? Object.entries(maps)
            .filter(([, kb]) => kb >= 1024)
            .sort()
            .map(([k, kb]) => `${k} ${mib(kb).trim()}`)
            .join(', ')
        : '',
    ].join('   '),
  );
}
