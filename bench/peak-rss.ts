import { readFileSync } from 'node:fs';

/**
 * This process's own peak resident set size in KiB: VmHWM from /proc/self/status. Not getrusage's
 * ru_maxrss, which Linux carries across exec from the parent's copy at fork, so a child of a large
 * parent reports the parent's size. Falls back to ru_maxrss where /proc is missing.
 */
export function peakRssKb(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}
