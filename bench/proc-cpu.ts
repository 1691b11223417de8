import { readdirSync, readFileSync } from 'node:fs';

/** Linux reports process CPU time in clock ticks, 100 per second on every common kernel. */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system, ms) used so far by every process whose command is `postgres`: the server
 * and its backends, read from /proc (Linux only; 0 elsewhere). A difference of two readings is what the
 * database spent meanwhile, give or take backends that ended in between and other clients' work.
 */
export function postgresCpuMs(): number {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return 0;
  }
  return pids.reduce((sum, pid) => sum + (cpuOf(pid, 'postgres') ?? 0), 0);
}

/** CPU time (user + system, ms) of one process so far, or 0 when it cannot be read. */
export function processCpuMs(pid: number): number {
  return cpuOf(String(pid)) ?? 0;
}

function cpuOf(pid: string, command?: string): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // ended meanwhile, not ours to read, or not Linux
  }
  const open = stat.indexOf('(');
  const close = stat.lastIndexOf(')');
  if (command !== undefined && stat.slice(open + 1, close) !== command) return undefined;
  // After the command: state is field 3; utime and stime are fields 14 and 15.
  const fields = stat.slice(close + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}
