import { type BenchResults, formatRows, mib, type RunResult, type StepSummary } from './results.js';

const num = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const secs = (ms: number) => (ms >= 100_000 ? `${num(ms / 1000)} s` : `${num(ms / 1000, 1)} s`);
const mb = (bytes: number) => `${num(bytes / 1e6, 1)} MB`;

/** The results as a short Markdown report: runs, ratios, targets, bundle, decrypt rate. */
export function toMarkdown(r: BenchResults): string {
  const m = r.machine;
  const lines = [
    `## rekey benchmark, ${r.date.slice(0, 10)} on ${m.host}`,
    '',
    `${m.cpus}× ${m.cpuModel}, ${m.memGiB} GiB RAM, Node ${m.node}, ${m.postgres}. Command: \`${r.command}\`.`,
    'Each rotation runs through RotateSecret on the local Secrets Manager, one fresh Node process per step',
    '(the Lambda bundle), against the local Data API with the stated per-call latency. setSecret is timed',
    "inside its process (the handler call); peak RSS is that process's VmHWM; load is the machine's",
    '1-minute load average as the run started (other work on the machine slows the runs down).',
    '',
    '| run | engine | rows | latency | setSecret | rows/s | calls / 1k rows | sent | received | peak RSS | testSecret | load |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const run of r.runs) lines.push(runRow(run));
  const largest = Math.max(...r.runs.map((x) => x.rows), 0);
  for (const b of r.baseline) {
    lines.push(
      `| row-by-row baseline (sample) | postgres | ${num(b.rows)} | ${b.latencyMs} ms | ${secs(b.ms)} | ${num(b.rowsPerSec)} | ${num((b.dataApi.calls * 1000) / Math.max(1, b.rows))} | ${mb(b.dataApi.bytesIn)} | ${mb(b.dataApi.bytesOut)} | ${mib(b.maxRssKb)} MiB | - | - |`,
    );
    for (const rows of new Set(r.runs.map((x) => x.rows))) {
      if (rows <= b.rows && rows !== largest) continue;
      lines.push(
        `| row-by-row baseline, **extrapolated** from the sample's rate | postgres | ${num(rows)} | ${b.latencyMs} ms | ~${secs((rows / b.rowsPerSec) * 1000)} | ${num(b.rowsPerSec)} | ${num((b.dataApi.calls * 1000) / Math.max(1, b.rows))} | ~${mb((b.dataApi.bytesIn * rows) / b.rows)} | ~${mb((b.dataApi.bytesOut * rows) / b.rows)} | - | - | - |`,
      );
    }
  }
  lines.push('', ...ratios(r), '', ...whereTimeGoes(r), '', '| target | measured | met |', '|---|---|---|');
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

function runRow(run: RunResult): string {
  const label = run.kind === 'rekey' ? 'rekey (Data API)' : 'direct SQL (limit)';
  const s: StepSummary | undefined = run.setSecret;
  const latency = run.kind === 'direct' ? '-' : `${run.latencyMs} ms`;
  if (!run.ok || !s)
    return `| ${label} | ${run.engine} | ${num(run.rows)} | ${latency} | failed: ${run.failure ?? 'no report'} | | | | | | | ${num(run.loadAverage, 1)} |`;
  const calls =
    run.kind === 'direct'
      ? `(${num(((s.statements ?? 0) * 1000) / run.rows, 2)} statements)`
      : num(s.callsPer1kRows, 2);
  const bytes = (n: number) => (run.kind === 'direct' ? '-' : mb(n));
  return `| ${label} | ${run.engine} | ${num(run.rows)} | ${latency} | ${secs(s.ms)} | ${num(s.rowsPerSec)} | ${calls} | ${bytes(s.bytesSent)} | ${bytes(s.bytesReceived)} | ${mib(s.peakRssKb)} MiB | ${run.testSecret ? secs(run.testSecret.ms) : '-'} | ${num(run.loadAverage, 1)} |`;
}

function ratios(r: BenchResults): string[] {
  const out = [
    '| rows | latency | rekey / direct-SQL limit | rekey / row-by-row baseline |',
    '|--:|--:|--:|--:|',
  ];
  for (const run of r.runs) {
    if (run.kind !== 'rekey' || run.engine !== 'postgres' || !run.setSecret) continue;
    const direct = r.runs.find((d) => d.kind === 'direct' && d.rows === run.rows && d.setSecret);
    const base = r.baseline.find((b) => b.latencyMs === run.latencyMs);
    const limit = direct?.setSecret
      ? `${num(run.setSecret.rowsPerSec / direct.setSecret.rowsPerSec, 2)}×`
      : '-';
    const baseline = base ? `${num(run.setSecret.rowsPerSec / base.rowsPerSec, 0)}×` : '-';
    out.push(`| ${formatRows(run.rows)} | ${run.latencyMs} ms | ${limit} | ${baseline} |`);
  }
  return out;
}

/**
 * Per 1,000 rows of setSecret: wall time against the CPU each party spent and the latency the calls
 * waited out. On this machine the three share two cores, so CPU sums can exceed what they overlap.
 */
function whereTimeGoes(r: BenchResults): string[] {
  const out = [
    '| setSecret, per 1,000 rows | rows | latency | wall | Lambda CPU | local Data API CPU | PostgreSQL CPU | latency waited (calls × latency) |',
    '|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const run of r.runs) {
    const s = run.setSecret;
    if (!s || run.engine !== 'postgres') continue;
    const per = (ms: number) => `${num((ms * 1000) / run.rows)} ms`;
    const label = run.kind === 'rekey' ? 'rekey (Data API)' : 'direct SQL (limit)';
    out.push(
      `| ${label} | ${formatRows(run.rows)} | ${run.kind === 'rekey' ? `${run.latencyMs} ms` : '-'} | ${per(s.ms)} | ${per(s.lambdaCpuMs)} | ${run.kind === 'rekey' ? per(s.serverCpuMs) : '-'} | ${per(s.postgresCpuMs)} | ${run.kind === 'rekey' ? per(s.calls * run.latencyMs) : '-'} |`,
    );
  }
  return out;
}
