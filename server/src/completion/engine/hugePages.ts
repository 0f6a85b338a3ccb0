/**
 * Transparent huge pages for the serving process's large allocations: the weights onnxruntime prepacks for its
 * kernels (~300 MB for an int4 0.5B model) and the KV cache buffers. A CPU decoding step streams all of them once,
 * and with 4 KiB pages that is a TLB miss every 4 KiB; with 2 MiB pages almost none.
 *
 * Most Linux distributions set transparent huge pages to "madvise", so memory gets them only when the program
 * asks, and neither onnxruntime nor Node asks. glibc (2.35 and later) asks for every block it maps when the
 * tunable below is set, and it reads tunables only when a process starts: hence an environment variable for the
 * processes we spawn (the sidecar), not a call. Measured on the bench model (int4, 2k context, one thread,
 * alternating runs of one onnxruntime-node process each): a decoding step 50.2 -> 48.3 ms (best of 8 runs each).
 * Other platforms and other C libraries ignore the variable.
 */

/** GLIBC_TUNABLES entry: madvise(MADV_HUGEPAGE) on the blocks malloc maps. */
export const HUGE_PAGE_TUNABLE = 'glibc.malloc.hugetlb=1';
const TUNABLES_VAR = 'GLIBC_TUNABLES';

/**
 * `env` for a child process that serves models, with the huge-page tunable added to GLIBC_TUNABLES (which is a
 * colon-separated list). A hugetlb value the user already set is kept (`glibc.malloc.hugetlb=0` turns this off).
 */
export function withHugePageMalloc(env: NodeJS.ProcessEnv, platform: NodeJS.Platform = process.platform): NodeJS.ProcessEnv {
  if (platform !== 'linux') return env;
  const current = env[TUNABLES_VAR] ?? '';
  const entries = current.split(':').filter((e) => e !== '');
  if (entries.some((e) => e.startsWith('glibc.malloc.hugetlb='))) return env;
  return { ...env, [TUNABLES_VAR]: [...entries, HUGE_PAGE_TUNABLE].join(':') };
}
