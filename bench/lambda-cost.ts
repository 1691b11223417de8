/**
 * What a measured step would cost and take in Lambda, where CPU follows memory. The benchmark's step
 * process has a whole core; Lambda gives a function about one vCPU at 1,769 MB and that fraction of
 * one below it, so a step that is CPU-bound here is slower there, and cheaper memory is only cheaper
 * while the step waits on the Data API rather than on its own CPU.
 */

import { ROTATION_PROCESS_ENV } from '../lib/rotation-process.js';

/** Memory at which Lambda gives one full vCPU (AWS Lambda's documented figure). */
export const FULL_VCPU_MB = 1769;

/**
 * The stack's default memory (`memorySize` in lib/app-secret-rotation.ts); test/bench/lambda-cost.test.ts
 * keeps the two equal.
 */
export const DEPLOYED_MEMORY_MB = 1024;

/** The memories the chooser compares: the smallest sensible, the deployed, one vCPU, and Lambda's old cap. */
export const CANDIDATE_MEMORIES_MB: readonly number[] = [512, 1024, 1769, 3008];

/** What one step measured, the inputs of every projection. */
export interface StepCost {
  readonly rows: number;
  /** Wall time of the handler call, on a whole core. */
  readonly wallMs: number;
  /** The step process's CPU (user and system). */
  readonly cpuMs: number;
}

/** A step projected to one memory size. */
export interface Projection {
  readonly memoryMb: number;
  /** vCPU the function's JavaScript can use at that memory. */
  readonly cpuShare: number;
  /** Rows per second the CPU alone allows: share / CPU per row. */
  readonly cpuCeilingRowsPerSec: number;
  /** Projected time per million rows, in seconds. */
  readonly secondsPerMillion: number;
  /** Billed GB-seconds per million rows. */
  readonly gbSecondsPerMillion: number;
  /** Fraction of the share the step keeps busy over the projected time. */
  readonly cpuUtilization: number;
}

/**
 * vCPU share at `memoryMb`, capped at one: rekey runs its JavaScript (crypto included) on one thread,
 * so above 1,769 MB the extra share only helps V8's helper threads, which this model leaves out.
 */
export function cpuShare(memoryMb: number): number {
  return Math.min(1, memoryMb / FULL_VCPU_MB);
}

/**
 * Projects a step measured on a whole core to `memoryMb`: it takes the longer of its measured time and
 * its CPU time stretched by the share (`max(wall, cpu / share)`). That is optimistic where the two are
 * close (waiting and CPU then stop overlapping perfectly), which is why the chooser wants headroom.
 */
export function project(step: StepCost, memoryMb: number): Projection {
  const share = cpuShare(memoryMb);
  const rows = Math.max(1, step.rows);
  const ms = Math.max(step.wallMs, step.cpuMs / share);
  const secondsPerMillion = (ms / 1000) * (1e6 / rows);
  return {
    memoryMb,
    cpuShare: share,
    cpuCeilingRowsPerSec: step.cpuMs > 0 ? (rows * share) / (step.cpuMs / 1000) : Number.POSITIVE_INFINITY,
    secondsPerMillion,
    gbSecondsPerMillion: (memoryMb / 1024) * secondsPerMillion,
    cpuUtilization: ms > 0 ? step.cpuMs / share / ms : 0,
  };
}

/** A memory size's cost for a whole rotation's row passes (setSecret and testSecret). */
export interface MemoryOption {
  readonly memoryMb: number;
  readonly setSecret: Projection;
  readonly testSecret?: Projection;
  readonly secondsPerMillion: number;
  readonly gbSecondsPerMillion: number;
  /** Peak RSS measured, against this memory. */
  readonly fitsMemory: boolean;
  /** The busier step's CPU utilization of its share. */
  readonly cpuUtilization: number;
}

/** The chooser's answer. */
export interface MemoryChoice {
  readonly memoryMb: number;
  readonly options: readonly MemoryOption[];
  /** One sentence: why this memory. */
  readonly reason: string;
}

/** Above this share of its CPU a step no longer hides its waiting behind its work: its time stretches. */
export const MAX_CPU_UTILIZATION = 0.7;
/** Memory must hold the measured peak RSS this many times over (the heap grows before it collects). */
export const RSS_HEADROOM = 2;

/**
 * Chooses the rotation function's memory from measured steps: the lowest GB-seconds per million rows
 * among the memories that hold the peak RSS with headroom and keep the CPU below
 * {@link MAX_CPU_UTILIZATION} of its share (cost only counts at a memory that does not slow the
 * rotation down); when none does, the fastest. Ties within 5% go to the faster memory. The reason
 * says when the deployed heap limit (`heapLimitMb`) would have to come down with the memory.
 */
export function chooseMemory(
  steps: {
    readonly setSecret: StepCost;
    readonly testSecret?: StepCost | undefined;
    readonly peakRssKb: number;
  },
  memories: readonly number[] = CANDIDATE_MEMORIES_MB,
  heapLimitMb: number | undefined = deployedHeapLimitMb(),
): MemoryChoice {
  const options: MemoryOption[] = memories.map((memoryMb) => {
    const set = project(steps.setSecret, memoryMb);
    const test = steps.testSecret ? project(steps.testSecret, memoryMb) : undefined;
    return {
      memoryMb,
      setSecret: set,
      ...(test ? { testSecret: test } : {}),
      secondsPerMillion: set.secondsPerMillion + (test?.secondsPerMillion ?? 0),
      gbSecondsPerMillion: set.gbSecondsPerMillion + (test?.gbSecondsPerMillion ?? 0),
      fitsMemory: (steps.peakRssKb / 1024) * RSS_HEADROOM <= memoryMb,
      cpuUtilization: Math.max(set.cpuUtilization, test?.cpuUtilization ?? 0),
    };
  });
  const fastest = [...options].sort((a, b) => a.secondsPerMillion - b.secondsPerMillion)[0];
  const eligible = options.filter((o) => o.fitsMemory && o.cpuUtilization <= MAX_CPU_UTILIZATION);
  if (!fastest) throw new RangeError('chooseMemory needs at least one memory size');
  if (eligible.length === 0)
    return {
      memoryMb: fastest.memoryMb,
      options,
      reason: `no memory keeps the CPU under ${MAX_CPU_UTILIZATION * 100}% of its share with room for the peak RSS: the fastest, ${fastest.memoryMb} MB`,
    };
  const cheapest = Math.min(...eligible.map((o) => o.gbSecondsPerMillion));
  const chosen = eligible
    .filter((o) => o.gbSecondsPerMillion <= cheapest * 1.05)
    .sort((a, b) => a.secondsPerMillion - b.secondsPerMillion)[0] as MemoryOption;
  // The heap limit travels with the memory (lib/rotation-process.ts): a limit at or above the memory
  // lets the process outgrow the function before V8 must collect.
  const heap =
    heapLimitMb !== undefined && heapLimitMb >= chosen.memoryMb
      ? `; lower --max-old-space-size (${heapLimitMb} MB in lib/rotation-process.ts) below it to deploy it`
      : '';
  return {
    memoryMb: chosen.memoryMb,
    options,
    reason:
      `${chosen.memoryMb} MB: ${chosen.gbSecondsPerMillion.toFixed(0)} GB-s per million rows, the least (within 5%) ` +
      `of the memories that keep the CPU under ${MAX_CPU_UTILIZATION * 100}% of its share ` +
      `(${(chosen.cpuUtilization * 100).toFixed(0)}% here) and hold ${RSS_HEADROOM}× the peak RSS${heap}`,
  };
}

/** The old-space limit the deployed function's NODE_OPTIONS sets, in MB, if it sets one. */
export function deployedHeapLimitMb(
  nodeOptions = ROTATION_PROCESS_ENV.NODE_OPTIONS ?? '',
): number | undefined {
  const m = /--max-old-space-size=(\d+)/.exec(nodeOptions);
  return m ? Number(m[1]) : undefined;
}
