/**
 * Where kept texts wait between reading and the consumer: in memory for small runs, or one append-only pack file
 * in a corpus folder so that memory stays flat in repository size. One pack (not a file per text) because a
 * file per text costs two metadata operations each — measured 1 ms per file on an overlay disk, more than all
 * the other harvest work together. Identical texts share one entry.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const PACK_FILE = 'texts.pack';

/** Closes a pack's descriptor once nothing can read from it any more (its store was garbage-collected). */
const closeWhenUnreachable = new FinalizationRegistry<number>((fd) => fs.close(fd, () => undefined));

/** Texts go in as UTF-8 (as the harvest threads hand them over) and come out as strings. */
export interface TextStore {
  put(sha256: string, utf8: Uint8Array): void;
  get(sha256: string): string;
  delete(sha256: string): void;
}

const decoder = new TextDecoder();

export function memoryStore(): TextStore {
  const texts = new Map<string, Uint8Array>();
  return {
    put: (sha, utf8) => void texts.set(sha, utf8),
    get: (sha) => {
      const utf8 = texts.get(sha);
      return utf8 ? decoder.decode(utf8) : '';
    },
    delete: (sha) => void texts.delete(sha),
  };
}

/**
 * A pack file in `dir` (emptied first). Its descriptor stays open while the store is reachable: files read their
 * text lazily, long after harvest() returned. Deleted entries only leave the index; the bytes stay until the next
 * harvest into the same folder.
 */
export function packStore(dir: string): TextStore {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, PACK_FILE);
  const fd = fs.openSync(file, 'w+');
  const index = new Map<string, { offset: number; length: number }>();
  let end = 0;
  const store: TextStore = {
    put(sha, bytes) {
      if (index.has(sha)) return;
      fs.writeSync(fd, bytes, 0, bytes.length, end);
      index.set(sha, { offset: end, length: bytes.length });
      end += bytes.length;
    },
    get(sha) {
      const at = index.get(sha);
      if (!at) return '';
      const buf = Buffer.allocUnsafe(at.length);
      fs.readSync(fd, buf, 0, at.length, at.offset);
      return buf.toString('utf8');
    },
    delete: (sha) => void index.delete(sha),
  };
  closeWhenUnreachable.register(store, fd);
  return store;
}
