/**
 * The report's cost and load tables: what a million rows cost in Lambda and Data API calls, which
 * memory to deploy, and what the app's queries felt during a rotation.
 */
import { CANDIDATE_MEMORIES_MB, DEPLOYED_MEMORY_MB, project } from './lambda-cost.js';
import { mb, num, secs, times } from './markdown-format.js';
import type { PacingRunResult } from './pacing-run.js';
import {
  type BenchResults,
  formatRows,
  latencyLabel,
  type PacingResult,
  postgresRekeyRuns,
  type StepSummary,
} from './results.js';

const perMillion = (n: number, rows: number) => (n * 1e6) / Math.max(1, rows);

/** Per million rows of each rekey run: Data API calls and bytes, Lambda GB-seconds and time at the deployed memory. */
export function costTable(r: BenchResults): string[] {
  const runs = postgresRekeyRuns(r.runs);
  if (runs.length === 0) return [];
  const at = `${num(DEPLOYED_MEMORY_MB)} MB`;
  const out = [
    `Per million rows, to price a rotation: Data API calls and bytes as counted by the local Data API; Lambda time and GB-seconds projected to the deployed ${num(DEPLOYED_MEMORY_MB)} MB (its CPU share: the longer of the time measured here and the CPU time over the share).`,
    '',
    `| rows | latency | calls, setSecret | calls, testSecret | sent + received | setSecret at ${at} | testSecret at ${at} | GB-s, both steps |`,
    '|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const run of runs) {
    const s = run.setSecret as StepSummary;
    const t = run.testSecret;
    const proj = (x: StepSummary) =>
      x.deployed ?? project({ rows: run.rows, wallMs: x.ms, cpuMs: x.lambdaCpuMs }, DEPLOYED_MEMORY_MB);
    const ps = proj(s);
    const pt = t ? proj(t) : undefined;
    const bytes = s.bytesSent + s.bytesReceived + (t ? t.bytesSent + t.bytesReceived : 0);
    out.push(
      `| ${formatRows(run.rows)} | ${latencyLabel(run)} | ${num(perMillion(s.calls, run.rows))} | ${t ? num(perMillion(t.calls, run.rows)) : '-'} | ${mb(perMillion(bytes, run.rows))} | ${secs(ps.secondsPerMillion * 1000)} | ${pt ? secs(pt.secondsPerMillion * 1000) : '-'} | ${num(ps.gbSecondsPerMillion + (pt?.gbSecondsPerMillion ?? 0))} |`,
    );
  }
  return out;
}

/** The memory chooser's table and recommendation. */
export function memoryTable(r: BenchResults): string[] {
  const m = r.memory;
  if (!m) return [];
  const out = [
    `Lambda memory, from the ${formatRows(m.rows)}-row run at ${m.latency} (bench/lambda-cost.ts): CPU share = memory / 1,769 MB, at most one vCPU (the rotation's JavaScript runs on one thread); time = the longer of the time measured and the CPU time over the share.`,
    '',
    '| memory | vCPU share | setSecret CPU ceiling | setSecret per 1M rows | testSecret per 1M rows | GB-s per 1M rows | busiest step, CPU use of its share |',
    '|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const o of m.choice.options) {
    const mark = o.memoryMb === m.choice.memoryMb ? ' **(chosen)**' : '';
    out.push(
      `| ${num(o.memoryMb)} MB${mark} | ${num(o.setSecret.cpuShare, 2)} | ${num(o.setSecret.cpuCeilingRowsPerSec)} rows/s | ${secs(o.setSecret.secondsPerMillion * 1000)} | ${o.testSecret ? secs(o.testSecret.secondsPerMillion * 1000) : '-'} | ${num(o.gbSecondsPerMillion)} | ${num(o.cpuUtilization * 100)}%${o.fitsMemory ? '' : ' (peak RSS does not fit twice)'} |`,
    );
  }
  out.push('', `Recommended memory: ${m.choice.reason}.`);
  if (!CANDIDATE_MEMORIES_MB.includes(DEPLOYED_MEMORY_MB))
    out.push(`(The stack deploys ${DEPLOYED_MEMORY_MB} MB.)`);
  return out;
}

/** The app's query latency alone and during a rotation, per pacing. */
export function pacingTable(r: BenchResults): string[] {
  const runs = r.pacing ?? [];
  if (runs.length === 0) return [];
  const first = runs[0] as PacingResult;
  // Older results files carry no priorities: their runs shared the cores at one priority.
  const priorities = (first as Partial<PacingRunResult>).priorities;
  const sharing =
    priorities && priorities.bench > (priorities.app ?? 0)
      ? `On this machine the app, the Lambda process, the local Data API and PostgreSQL share two cores; the bench's process (the local Data API) and the Lambda processes it starts ran at nice ${priorities.bench}${priorities.policy === 'idle' ? ' and SCHED_IDLE (only CPU nothing else wants)' : ''}, the app and PostgreSQL at their normal priority (the app at ${priorities.app ?? 0}), because on AWS the Lambda and the Data API run on other machines and the app competes only with PostgreSQL's own work for rekey's statements; here they still take whatever CPU the app and PostgreSQL leave.`
      : "On this machine the app, the Lambda process, the local Data API and PostgreSQL share two cores, so the app also feels the rotation's CPU, which on AWS runs elsewhere.";
  const out = [
    `An app beside the rotation (bench/app-loop-worker.ts): ${first.appClients} connections straight to PostgreSQL, each repeating a read of one rotated row by id, a 10-row list and a one-row update of its own table, then a pause; timed alone for ${secs(first.quietMs)} just before the rotation, then during it. ${sharing}`,
    '',
    '| pacing | rows | latency | setSecret | rows/s | app p50 / p99, no rotation | during setSecret | p99 ratio | during the whole rotation | app queries (errors) |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const p of runs) {
    const s = p.run.setSecret;
    const name = `${p.run.pacing?.name ?? 'default'}${p.run.pacing && !p.run.pacing.applied ? ' (not applied: the config refused it)' : ''}`;
    const pair = (a: { p50Ms: number; p99Ms: number }) => `${num(a.p50Ms, 1)} / ${num(a.p99Ms, 1)} ms`;
    out.push(
      !p.run.ok || !s
        ? `| ${name} | ${num(p.run.rows)} | ${latencyLabel(p.run)} | failed: ${p.run.failure ?? 'no report'} | | ${pair(p.quiet)} | | | | |`
        : `| ${name} | ${num(p.run.rows)} | ${latencyLabel(p.run)} | ${secs(s.ms)} | ${num(s.rowsPerSec)} | ${pair(p.quiet)} | ${pair(p.duringSetSecret)} | ${times(p.duringSetSecret.p99Ms / Math.max(p.quiet.p99Ms, 1e-9))} | ${pair(p.duringRotation)} | ${num(p.quiet.queries + p.duringRotation.queries)} (${p.appErrors}) |`,
    );
  }
  const byKind = runs.filter((p) => p.quiet.byKind && p.duringSetSecret.byKind);
  if (byKind.length) out.push('', 'App p99 per query, no rotation → during setSecret:', '');
  for (const p of byKind) {
    const kinds = (['read', 'list', 'update'] as const).map(
      (k) =>
        `${k} ${num(p.quiet.byKind?.[k].p99Ms ?? 0, 1)} → ${num(p.duringSetSecret.byKind?.[k].p99Ms ?? 0, 1)} ms`,
    );
    out.push(`- ${p.run.pacing?.name ?? 'default'}: ${kinds.join(', ')}`);
  }
  return out;
}
