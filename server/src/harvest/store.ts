/**
 * Where kept texts wait between reading and the consumer: in memory for small runs, or one append-only pack file
 * in a corpus folder so that memory stays flat in repository size. One pack (not a file per text) because a
 * file per text costs two metadata operations each — measured 1 ms per file on an overlay disk, more than all
 * the other harvest work together. Identical texts share one entry.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packWriter, type PackWriter } from './native';

export const PACK_FILE = 'texts.pack';
/** Infix of a previous pack's name while it is being deleted. */
const RETIRED = '.retired-';

/** Closes a pack's descriptor once nothing can read from it any more (its store was garbage-collected). */
const closeWhenUnreachable = new FinalizationRegistry<number>((fd) => fs.close(fd, () => undefined));

/** A text the native scan already appended to the store's pack (see TextStore.pack). */
export interface PackedText {
  readonly offset: number;
  readonly length: number;
}

/** Texts go in as UTF-8 (as the harvest threads hand them over) and come out as strings. */
export interface TextStore {
  put(sha256: string, utf8: Uint8Array | PackedText): void;
  get(sha256: string): string;
  delete(sha256: string): void;
  /** The pack the native scan may append to directly (a pack store with the addon built). */
  readonly pack?: PackWriter;
}

const decoder = new TextDecoder();

export function memoryStore(): TextStore {
  const texts = new Map<string, Uint8Array>();
  return {
    put: (sha, utf8) => {
      if (!(utf8 instanceof Uint8Array)) throw new Error('a memory store holds texts, not pack ranges');
      texts.set(sha, utf8);
    },
    get: (sha) => {
      const utf8 = texts.get(sha);
      return utf8 ? decoder.decode(utf8) : '';
    },
    delete: (sha) => void texts.delete(sha),
  };
}

/**
 * A new pack file in `dir`. Its descriptor stays open while the store is reachable: files read their text lazily,
 * long after harvest() returned. Deleted entries only leave the index; the bytes stay until the next harvest into
 * the same folder retires the pack.
 */
export function packStore(dir: string): TextStore {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, PACK_FILE);
  retirePacks(dir, file);
  const fd = fs.openSync(file, 'w+');
  const index = new Map<string, PackedText>();
  // With the addon, every append reserves its range through it, so the native scan's threads can append too.
  const pack = packWriter(file);
  let end = 0;
  const append = (bytes: Uint8Array): number => {
    if (pack) return pack.append(bytes);
    fs.writeSync(fd, bytes, 0, bytes.length, end);
    end += bytes.length;
    return end - bytes.length;
  };
  const store: TextStore = {
    pack,
    put(sha, bytes) {
      if (index.has(sha)) return;
      index.set(sha, bytes instanceof Uint8Array ? { offset: append(bytes), length: bytes.length } : bytes);
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

/**
 * Moves the previous harvest's pack aside and deletes it (and any a crashed run left) in the background. Not
 * truncated in place: a store of that harvest may still be reading it (its descriptor keeps the renamed file's
 * bytes), and truncating 200 MB took 50 ms of the harvest's main thread (bench/harvest.mjs, 20,000 files).
 */
function retirePacks(dir: string, file: string): void {
  try {
    fs.renameSync(file, `${file}${RETIRED}${process.pid}-${Date.now()}`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(PACK_FILE + RETIRED)) fs.rm(path.join(dir, name), { force: true }, () => undefined);
  }
}
