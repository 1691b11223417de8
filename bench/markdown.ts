import type { CryptoFloor } from './floors.js';
import { DEPLOYED_MEMORY_MB, project } from './lambda-cost.js';
import { costTable, memoryTable, pacingTable } from './markdown-cost.js';
import { mb, num, secs, times } from './markdown-format.js';
import {
  type BenchResults,
  cpuPer1k,
  directRunFor,
  formatRows,
  latencyLabel,
  mib,
  type RunResult,
  type StepSummary,
} from './results.js';

/**
 * The results as a Markdown report: runs with their CPU ceilings, limits and floors, cost per million
 * rows, the memory chooser, the app beside a rotation, where the time goes, targets, bundle, reader.
 */
export function toMarkdown(r: BenchResults): string {
  const m = r.machine;
  const lines = [
    `## rekey benchmark, ${r.date.slice(0, 10)} on ${m.host}`,
    '',
    `${m.cpus}× ${m.cpuModel}, ${m.memGiB} GiB RAM, Node ${m.node}, ${m.postgres}. Command: \`${r.command}\`.`,
    'Each rotation runs through RotateSecret on the local Secrets Manager, one fresh Node process per step',
    '(the Lambda bundle), against the local Data API with the stated per-call latency (a spread: each call',
    "drawn from a seeded log-normal with that median and p90), at the config's default pacing. Steps are",
    "timed inside their process (the handler call); peak RSS is the setSecret process's VmHWM; load is the",
    "machine's 1-minute load average as the run started. The CPU ceiling is the rows per second the step's",
    `measured CPU allows at the deployed ${num(DEPLOYED_MEMORY_MB)} MB (${num(DEPLOYED_MEMORY_MB)}/1,769 of a vCPU).`,
    '',
    '| run | engine | rows | latency | setSecret | rows/s | CPU ceiling | CPU / 1k rows | testSecret | rows/s | CPU ceiling | CPU / 1k rows | test / set | peak RSS | load |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const run of r.runs) lines.push(runRow(run));
  for (const section of [
    baselineTable(r),
    limits(r),
    costTable(r),
    memoryTable(r),
    pacingTable(r),
    whereTimeGoes(r),
  ])
    if (section.length) lines.push('', ...section);
  lines.push('', '| target | measured | met |', '|---|---|---|');
  for (const t of r.targets)
    lines.push(
      `| ${t.target} | ${t.measured} | ${t.met === true ? 'yes' : t.met === false ? '**no**' : t.met} |`,
    );
  if (r.bundle && r.coldStart) {
    const c = r.coldStart;
    lines.push(
      '',
      '| Lambda bundle (esbuild, ESM, node22, minified, nothing external) | gzip | import in a fresh process (median of ' +
        `${c.runs}) | whole process | RSS after import |`,
      '|--:|--:|--:|--:|--:|',
      `| ${num(r.bundle.bytes / 1024)} KiB | ${num(r.bundle.gzipBytes / 1024)} KiB | ${num(c.importMs)} ms (${num(c.importMsMin)}-${num(c.importMsMax)}) | ${num(c.processMs)} ms | ${mib(c.rssKb)} MiB |`,
      '',
      `Largest parts of the bundle: ${r.bundle.largest.map((p) => `${p.name} ${num(p.bytes / 1024)} KiB`).join(', ')}.`,
    );
  }
  if (r.decrypt) {
    const d = r.decrypt;
    lines.push(
      '',
      `Reader library, one core, ${d.valueBytes}-character rk1 values: ${num(d.rk1DecryptPerSec)} decrypts/s, ` +
        `${num(d.rk1EncryptPerSec)} encrypts/s, ${num(d.rk1ReencryptPerSec)} re-encrypts/s; ` +
        `KeyRing.decrypt (lambda/keyring.ts): ${num(d.keyRingDecryptPerSec)}/s.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

function stepCells(run: RunResult, s: StepSummary | undefined): string {
  if (!s) return '- | - | - | -';
  const deployed =
    s.deployed ?? project({ rows: run.rows, wallMs: s.ms, cpuMs: s.lambdaCpuMs }, DEPLOYED_MEMORY_MB);
  return `${secs(s.ms)} | ${num(s.rowsPerSec)} | ${num(deployed.cpuCeilingRowsPerSec)} | ${num(cpuPer1k(s, run.rows), 1)} ms`;
}

function runRow(run: RunResult): string {
  const label = run.kind === 'rekey' ? 'rekey (Data API)' : 'direct SQL (limit)';
  const s = run.setSecret;
  const latency = run.kind === 'direct' ? '-' : latencyLabel(run);
  if (!run.ok || !s)
    return `| ${label} | ${run.engine} | ${num(run.rows)} | ${latency} | failed: ${run.failure ?? 'no report'} | | | | | | | | | | ${num(run.loadAverage, 1)} |`;
  const t = run.testSecret;
  const ratio = t ? num(t.ms / s.ms, 2) : '-';
  return `| ${label} | ${run.engine} | ${num(run.rows)} | ${latency} | ${stepCells(run, s)} | ${stepCells(run, t)} | ${ratio} | ${mib(s.peakRssKb)} MiB | ${num(run.loadAverage, 1)} |`;
}

/** The row-by-row baseline's samples, and the larger sizes extrapolated from their rates. */
function baselineTable(r: BenchResults): string[] {
  if (r.baseline.length === 0) return [];
  const out = [
    '| row-by-row baseline | rows | latency | time | rows/s | calls / 1k rows | sent | received | peak RSS |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  const largest = Math.max(...r.runs.map((x) => x.rows), 0);
  for (const b of r.baseline) {
    const label = b.latency?.label ?? `${b.latencyMs} ms`;
    const calls = num((b.dataApi.calls * 1000) / Math.max(1, b.rows));
    out.push(
      `| sample | ${num(b.rows)} | ${label} | ${secs(b.ms)} | ${num(b.rowsPerSec)} | ${calls} | ${mb(b.dataApi.bytesIn)} | ${mb(b.dataApi.bytesOut)} | ${mib(b.maxRssKb)} MiB |`,
    );
    for (const rows of new Set(r.runs.map((x) => x.rows))) {
      if (rows <= b.rows && rows !== largest) continue;
      out.push(
        `| **extrapolated** from the sample's rate | ${num(rows)} | ${label} | ~${secs((rows / b.rowsPerSec) * 1000)} | ${num(b.rowsPerSec)} | ${calls} | ~${mb((b.dataApi.bytesIn * rows) / b.rows)} | ~${mb((b.dataApi.bytesOut * rows) / b.rows)} | - |`,
      );
    }
  }
  return out;
}

/** The crypto floor per CPU-second (per second of wall time in files older than that field). */
function cryptoRate(c: CryptoFloor): number {
  return c.openSealPerCpuSec ?? c.openSealPerSec;
}

/** Each rekey run's rate beside the limits of the same rows: direct SQL, the database, the crypto. */
function limits(r: BenchResults): string[] {
  const crypto = r.floors?.crypto;
  const out: string[] = [];
  if (crypto || r.floors?.database.length) {
    const db = (r.floors?.database ?? [])
      .map((d) => `${formatRows(d.rows)} in ${secs(d.ms)} (${num(d.rowsPerSec)} rows/s)`)
      .join(', ');
    out.push(
      'Floors measured in the same run: ' +
        [
          crypto
            ? `AES-256-GCM open plus seal of a ${crypto.plaintextBytes}-byte value on one thread, ${num(cryptoRate(crypto))} values per CPU-second (${num(crypto.openSealPerSec)} per second of wall time)`
            : '',
          db ? `PostgreSQL rewriting the same rows itself (\`${r.floors?.database[0]?.sql}\`): ${db}` : '',
        ]
          .filter(Boolean)
          .join('; ') +
        '.',
      '',
    );
  }
  out.push(
    '| rows | latency | rekey rows/s | direct SQL (same code) | database rewrite (one UPDATE) | AES-GCM, one thread | rekey / direct SQL | rekey / row-by-row |',
    '|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const run of r.runs) {
    // A failed run's setSecret may have a report (it ran, and failed): its rate is not a figure.
    if (run.kind !== 'rekey' || run.engine !== 'postgres' || !run.ok || !run.setSecret) continue;
    const rate = run.setSecret.rowsPerSec;
    const direct = directRunFor(r.runs, run.rows)?.setSecret;
    const db = r.floors?.database.find((d) => d.rows === run.rows);
    const base = r.baseline.find(
      (b) => b.latencyMs === run.latencyMs && b.latency?.p90Ms === run.latency?.p90Ms,
    );
    out.push(
      `| ${formatRows(run.rows)} | ${latencyLabel(run)} | ${num(rate)} | ${direct ? num(direct.rowsPerSec) : '-'} | ${db ? num(db.rowsPerSec) : '-'} | ${crypto ? num(cryptoRate(crypto)) : '-'} | ${direct ? times(rate / direct.rowsPerSec) : '-'} | ${base ? times(rate / base.rowsPerSec, 0) : '-'} |`,
    );
  }
  return out;
}

/**
 * Per 1,000 rows of setSecret: wall time against the CPU each party spent and the latency the calls
 * waited out. On this machine the three share two cores, so CPU sums can exceed what they overlap.
 */
function whereTimeGoes(r: BenchResults): string[] {
  const out = [
    '| setSecret, per 1,000 rows | rows | latency | wall | Lambda CPU | local Data API CPU | PostgreSQL CPU | latency waited (all calls) |',
    '|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const run of r.runs) {
    const s = run.setSecret;
    if (!s || !run.ok || run.engine !== 'postgres') continue;
    const per = (ms: number) => `${num((ms * 1000) / run.rows)} ms`;
    const label = run.kind === 'rekey' ? 'rekey (Data API)' : 'direct SQL (limit)';
    const waited = s.latencyWaitedMs ?? s.calls * run.latencyMs;
    out.push(
      `| ${label} | ${formatRows(run.rows)} | ${run.kind === 'rekey' ? latencyLabel(run) : '-'} | ${per(s.ms)} | ${per(s.lambdaCpuMs)} | ${run.kind === 'rekey' ? per(s.serverCpuMs) : '-'} | ${per(s.postgresCpuMs)} | ${run.kind === 'rekey' ? per(waited) : '-'} |`,
    );
  }
  return out;
}
