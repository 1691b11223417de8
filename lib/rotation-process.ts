/**
 * The rotation function's process settings: deployed in its environment, and given to the benchmark's
 * step processes, so that what `npm run bench` measures is what runs in Lambda.
 *
 * - `--max-old-space-size` is set explicitly because Lambda's Node runtime leaves both heap limits to
 *   V8 once NODE_OPTIONS names either; 512 MB (half the default memory) keeps full collections often
 *   enough that peak memory stays flat from ten thousand rows to a million.
 * - `--max-semi-space-size=8`: page-sized buffers die young instead of being promoted; at 4 a 50k-row
 *   setSecret ran 61 young and 11 full collections (about 6.6 ms of CPU per 1,000 rows). 16 saved no
 *   more CPU than 8 (1M rows at 100 ms, and 100k at 0 ms alternated three times: 30-32 ms per 1,000
 *   rows either way) but held about 25 MiB more at its peak once the young generation filled, which
 *   a 10k-row rotation never reaches: 147 against 119-121 MiB at 1M rows, 96-99 at 10k either way.
 * - `MALLOC_MMAP_THRESHOLD_` pins glibc's threshold, which otherwise rises after the first freed page
 *   buffer, so later ones come from arenas that fragment and never shrink.
 */
export const ROTATION_PROCESS_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=8 --max-old-space-size=512',
  MALLOC_MMAP_THRESHOLD_: '131072',
};
