/**
 * `tsx bench/render.ts <results.json> [--latest]`: prints the Markdown of a results file again, with
 * the targets judged by the current rules; with `--latest`, also writes them into the file and rewrites
 * its Markdown and latest.md beside it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type BenchLatency, constantLatency } from './latency-option.js';
import { toMarkdown } from './markdown.js';
import { type BenchResults, judgeTargets, memoryAdvice } from './results.js';

const [file, flag] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/render.ts <results.json> [--latest]');
  process.exit(2);
}
const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
// Older files list latencies as numbers; newer ones as { label, p50Ms, p90Ms }.
const first = (results.options.latencies as unknown[] | undefined)?.[0];
const headline = typeof first === 'number' ? constantLatency(first) : (first as BenchLatency | undefined);
const memory = results.memory ?? (headline ? memoryAdvice(results.runs, headline) : undefined);
const rejudged: BenchResults = {
  ...results,
  ...(memory ? { memory } : {}),
  targets: judgeTargets(results.runs, results.pacing ?? [], results.floors?.crypto),
};
const markdown = toMarkdown(rejudged);
process.stdout.write(markdown);
if (flag === '--latest') {
  writeFileSync(file, `${JSON.stringify(rejudged, null, 2)}\n`);
  writeFileSync(file.replace(/\.json$/, '.md'), markdown);
  writeFileSync(join(dirname(file), 'latest.md'), markdown);
}
