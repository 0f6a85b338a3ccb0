/**
 * Whether a failure means the disk is full: Node's ENOSPC / EDQUOT codes, and the texts Rust ("os error 28"),
 * Python ("Errno 28") and the C library ("No space left on device") give for it. One predicate for every place
 * that turns a full disk into a message the user can act on (harvest, export, the trainer environment).
 */
export const DISK_FULL_TEXT = /No space left on device|ENOSPC|Errno 28|os error 28|Disk quota exceeded|EDQUOT/i;

export function isDiskFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT') return true;
  const message = err instanceof Error ? err.message : String(err);
  return DISK_FULL_TEXT.test(message);
}
