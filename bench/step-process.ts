import { appendFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
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
  let input = '';
  for await (const chunk of process.stdin) input += String(chunk);
  const event = JSON.parse(input) as { Step?: string };
  const step = String(event.Step);
  const loadStart = performance.now();
  const handler = await load();
  const importMs = performance.now() - loadStart;
  const profile = process.env.BENCH_PROFILE_STEP === step ? await startProfile() : undefined;
  const deadline = Date.now() + LAMBDA_TIMEOUT_MS;
  const cpu = process.cpuUsage();
  const backend = extra.backendCpuMs?.() ?? 0;
  const started = performance.now();
  let error: StepProcessReport['error'];
  try {
    await handler(event, { getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()) });
  } catch (e) {
    error = { name: (e as Error).name, message: (e as Error).message };
  }
  const handlerMs = performance.now() - started;
  const used = process.cpuUsage(cpu);
  if (profile) await profile.stop(step);
  const report: StepProcessReport = {
    step,
    ok: error === undefined,
    ...(error ? { error } : {}),
    importMs,
    handlerMs,
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
