/**
 * The rotation function's process settings: deployed in its environment, and given to the benchmark's
 * step processes, so that what `npm run bench` measures is what runs in Lambda.
 *
 * - `--max-old-space-size` is set explicitly because Lambda's Node runtime leaves both heap limits to
 *   V8 once NODE_OPTIONS names either; 512 MB (half the default memory) keeps full collections often
 *   enough that peak memory stays flat from ten thousand rows to a million.
 * - `--max-semi-space-size=16`: page-sized buffers die young instead of being promoted; at 4 a 50k-row
 *   setSecret ran 61 young and 11 full collections (about 6.6 ms of CPU per 1,000 rows), and 16 cut
 *   setSecret's CPU per 1,000 rows from 25.5-28.0 to 22.3-24.3 ms for a fixed 30 MiB more RSS.
 * - `MALLOC_MMAP_THRESHOLD_` pins glibc's threshold, which otherwise rises after the first freed page
 *   buffer, so later ones come from arenas that fragment and never shrink.
 */
export const ROTATION_PROCESS_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=16 --max-old-space-size=512',
  MALLOC_MMAP_THRESHOLD_: '131072',
};
