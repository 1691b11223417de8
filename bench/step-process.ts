import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import { getHeapSpaceStatistics, setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { peakRssKb } from './peak-rss.js';

/** A rotation handler as the Lambda runtime calls it. */
export type StepHandler = (
  event: unknown,
  context: { getRemainingTimeInMillis(): number },
) => Promise<unknown>;

/** What one step process measured about itself, one JSON line in `BENCH_STEP_REPORT`. */
export interface StepProcessReport {
  readonly step: string;
  readonly ok: boolean;
  readonly error?: { readonly name: string; readonly message: string };
  /** Loading and initialising the handler module (its module-scope work). */
  readonly importMs: number;
  /** The handler call alone. */
  readonly handlerMs: number;
  /** When the handler call started and ended, in ms since the epoch (windows for the app's latency). */
  readonly handlerStartedAt?: number;
  readonly handlerEndedAt?: number;
  /** Peak resident set size of this process, in KiB (VmHWM: see peak-rss.ts). */
  readonly maxRssKb: number;
  /** V8's heap as the step ended, in KiB: what the runtime reserved and what objects use. */
  readonly heap: { readonly totalKb: number; readonly usedKb: number; readonly externalKb: number };
  readonly userCpuMs: number;
  readonly systemCpuMs: number;
  /** Statements a direct runner sent, when the step ran over one. */
  readonly statements?: number;
  /** CPU of that runner's PostgreSQL backend during the handler call, in ms. */
  readonly backendCpuMs?: number;
}

/** Lambda's longest timeout: a step that needs longer fails here as it would there. */
const LAMBDA_TIMEOUT_MS = 900_000;

/**
 * The body of a step process started by the local Secrets Manager's command invoker: reads the event
 * from stdin, loads the handler, runs it with a context counting down from Lambda's 15 minutes, and
 * appends what it measured to `BENCH_STEP_REPORT`. With `BENCH_PROFILE_STEP` naming this step, the
 * handler call is CPU-profiled into `BENCH_PROFILE_DIR`. A failed step exits with code 1.
 */
export async function runStepProcess(
  load: () => Promise<StepHandler>,
  extra: { statements?: () => number; backendCpuMs?: () => number; close?: () => Promise<void> } = {},
): Promise<void> {
  // DIAGNOSIS: V8 flags NODE_OPTIONS does not accept (--trace-gc, --optimize-for-size), set before the
  // handler's module loads.
  if (process.env.BENCH_V8_FLAGS) setFlagsFromString(process.env.BENCH_V8_FLAGS);
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  const event = JSON.parse(input) as { Step?: string };
  const step = String(event.Step);
  const loadStart = performance.now();
  const handler = await load();
  const importMs = performance.now() - loadStart;
  const profile = process.env.BENCH_PROFILE_STEP === step ? await startProfile() : undefined;
  const trace =
    process.env.BENCH_MEM_TRACE && step === 'setSecret'
      ? startMemTrace(process.env.BENCH_MEM_TRACE, step)
      : undefined;
  const deadline = Date.now() + LAMBDA_TIMEOUT_MS;
  const cpu = process.cpuUsage();
  const backend = extra.backendCpuMs?.() ?? 0;
  const started = performance.now();
  const startedAt = performance.timeOrigin + started;
  let error: StepProcessReport['error'];
  try {
    await handler(event, { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) });
  } catch (e) {
    error = { name: (e as Error).name, message: (e as Error).message };
  }
  const handlerMs = performance.now() - started;
  trace?.stop();
  const used = process.cpuUsage(cpu);
  if (profile) await profile.stop(step);
  const report: StepProcessReport = {
    step,
    ok: error === undefined,
    ...(error ? { error } : {}),
    importMs,
    handlerMs,
    handlerStartedAt: startedAt,
    handlerEndedAt: startedAt + handlerMs,
    maxRssKb: peakRssKb(),
    heap: heapKb(),
    userCpuMs: used.user / 1000,
    systemCpuMs: used.system / 1000,
    ...(extra.statements ? { statements: extra.statements() } : {}),
    ...(extra.backendCpuMs ? { backendCpuMs: extra.backendCpuMs() - backend } : {}),
  };
  await extra.close?.();
  const file = process.env.BENCH_STEP_REPORT;
  if (file) appendFileSync(file, `${JSON.stringify(report)}\n`);
  if (error) process.exitCode = 1;
}

async function startProfile(): Promise<{ stop(step: string): Promise<void> }> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return {
    async stop(step) {
      const { profile } = await session.post('Profiler.stop');
      const dir = process.env.BENCH_PROFILE_DIR ?? '.';
      writeFileSync(join(dir, `${step}-${process.pid}.cpuprofile`), JSON.stringify(profile));
      session.disconnect();
    },
  };
}

function heapKb(): StepProcessReport['heap'] {
  const m = process.memoryUsage();
  return {
    totalKb: Math.round(m.heapTotal / 1024),
    usedKb: Math.round(m.heapUsed / 1024),
    externalKb: Math.round(m.external / 1024),
  };
}

/**
 * DIAGNOSIS (BENCH_MEM_TRACE=<dir>): samples this process's memory every BENCH_MEM_TRACE_MS (250 ms)
 * during setSecret into <dir>/<step>-<pid>.jsonl: VmRSS/VmHWM, process.memoryUsage() and V8's heap
 * spaces (committed and used). With BENCH_HEAP_SNAPSHOT=1, also a heap snapshot as the handler ends.
 */
function startMemTrace(dir: string, step: string): { stop(): void } {
  const file = join(dir, `${step}-${process.pid}.jsonl`);
  const t0 = performance.now();
  const smapsEvery = Number(process.env.BENCH_MEM_TRACE_SMAPS ?? 0) || Number.POSITIVE_INFINITY;
  let n = 0;
  const sample = (tag?: string) => {
    const status = readFileSync('/proc/self/status', 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? 0);
    const m = process.memoryUsage();
    const spaces: Record<string, [number, number]> = {};
    for (const s of getHeapSpaceStatistics())
      spaces[s.space_name.replace(/_space$/, '')] = [
        Math.round(s.space_size / 1024),
        Math.round(s.space_used_size / 1024),
      ];
    appendFileSync(
      file,
      `${JSON.stringify({
        t: Math.round(performance.now() - t0),
        ...(tag ? { tag } : {}),
        rss: kb('VmRSS'),
        hwm: kb('VmHWM'),
        anon: kb('RssAnon'),
        file: kb('RssFile'),
        heapTotal: Math.round(m.heapTotal / 1024),
        heapUsed: Math.round(m.heapUsed / 1024),
        external: Math.round(m.external / 1024),
        arrayBuffers: Math.round(m.arrayBuffers / 1024),
        spaces,
        ...(n++ % smapsEvery === 0 ? { maps: mapsKb() } : {}),
      })}\n`,
    );
  };
  sample('start');
  const timer = setInterval(sample, Number(process.env.BENCH_MEM_TRACE_MS ?? 250));
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample('end');
      if (process.env.BENCH_HEAP_SNAPSHOT === '1') {
        writeHeapSnapshot(join(dir, `${step}-${process.pid}.heapsnapshot`));
        sample('after-snapshot');
      }
    },
  };
}

/**
 * DIAGNOSIS: resident KiB of this process's mappings by kind, from /proc/self/smaps: the brk heap
 * (glibc's main arena), anonymous mappings inside 64 MiB-aligned reservations of 64 MiB (glibc's
 * thread arenas), other anonymous mappings by size class (V8's 256 KiB pages and large objects, mmapped
 * malloc chunks), and file-backed mappings.
 */
function mapsKb(): Record<string, number> {
  const out: Record<string, number> = {};
  let kind = '';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      const size = (Number.parseInt(head[2] as string, 16) - Number.parseInt(head[1] as string, 16)) / 1024;
      const name = head[4] ?? '';
      kind = name.startsWith('/')
        ? 'file'
        : name === '[heap]'
          ? 'brk'
          : name.startsWith('[')
            ? 'other'
            : size === 256
              ? 'anon256k'
              : size < 1024
                ? 'anon<1m'
                : size < 16384
                  ? 'anon1-16m'
                  : 'anon>=16m';
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) out[kind] = (out[kind] ?? 0) + Number(rss[1]);
  }
  return out;
}
