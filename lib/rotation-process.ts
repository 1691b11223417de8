/**
 * The rotation function's process settings: deployed in its environment, and given to the benchmark's
 * step processes, so that what `npm run bench` measures is what runs in Lambda.
 *
 * - `--max-old-space-size` is set explicitly because Lambda's Node runtime leaves both heap limits to
 *   V8 once NODE_OPTIONS names either; 512 MB (half the default memory) keeps full collections often
 *   enough that peak memory stays flat from ten thousand rows to a million.
 * - `--max-semi-space-size=4`: page-sized buffers die young instead of being promoted.
 * - `MALLOC_MMAP_THRESHOLD_` pins glibc's threshold, which otherwise rises after the first freed page
 *   buffer, so later ones come from arenas that fragment and never shrink.
 */
export const ROTATION_PROCESS_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--enable-source-maps --max-semi-space-size=4 --max-old-space-size=512',
  MALLOC_MMAP_THRESHOLD_: '131072',
};
