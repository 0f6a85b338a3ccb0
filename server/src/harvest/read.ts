/**
 * Reading one discovered path into its bytes (then `decode` into normalised text), or the reason it is left out.
 * Links are never followed: not the file itself, nor a folder on its path that was replaced by a link (git does not
 * track files beneath one, but the working tree can hold them). Sizes are checked before reading, and no read goes past the size limit, so a
 * 1 GB file costs one stat.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { linkReason } from './discover';
import { decodeContent } from './filters';
import type { ExclusionReason } from './types';

/**
 * `utf8`: the text's UTF-8 bytes when they are exactly what was read (no BOM, CR or other change), else undefined.
 * Its buffer is its own (never Node's shared pool), so it can be transferred to another thread without a copy.
 */
export type Read = { text: string; utf8: Uint8Array | undefined; diskBytes: number } | Skipped;
type Skipped = { reason: ExclusionReason; diskBytes: number };
/** A file's bytes as read, in a buffer of their own (see Read.utf8). */
export type RawRead = { bytes: Uint8Array } | Skipped;

export class FileReader {
  /** Folder (relative) → the reason a link on its path leaves its files out, or null when it is a real folder. */
  private readonly folders = new Map<string, ExclusionReason | null>([['', null]]);

  constructor(
    private readonly root: string,
    private readonly maxBytes: number,
  ) {}

  /** The reason a link on the path's folders leaves the file out, or null (a cached lstat per folder). */
  linkedFolder(rel: string): ExclusionReason | null {
    return this.folderExclusion(rel.slice(0, Math.max(0, rel.lastIndexOf('/'))));
  }

  /** The file's bytes, or the reason it is left out before its content is looked at. */
  readBytes(rel: string): RawRead {
    const viaLink = this.linkedFolder(rel);
    if (viaLink) return { reason: viaLink, diskBytes: 0 };
    const abs = path.join(this.root, rel);
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(abs);
    } catch {
      return { reason: 'missing', diskBytes: 0 }; // tracked but deleted in the working tree
    }
    if (stat.isSymbolicLink()) return { reason: linkReason(this.root, rel), diskBytes: 0 };
    if (!stat.isFile()) return { reason: 'not-a-file', diskBytes: 0 }; // a folder where git has a file, a socket
    if (stat.size > this.maxBytes) return { reason: 'too-large', diskBytes: 0 };
    const bytes = readAtMost(abs, this.maxBytes);
    if (bytes === undefined) return { reason: 'missing', diskBytes: 0 };
    if (bytes.length > this.maxBytes) return { reason: 'too-large', diskBytes: 0 }; // grew since the stat
    return { bytes };
  }

  private folderExclusion(relDir: string): ExclusionReason | null {
    const known = this.folders.get(relDir);
    if (known !== undefined) return known;
    const parent = path.posix.dirname(relDir) === '.' ? '' : path.posix.dirname(relDir);
    let reason = this.folderExclusion(parent);
    if (!reason) {
      try {
        if (fs.lstatSync(path.join(this.root, relDir)).isSymbolicLink()) reason = linkReason(this.root, relDir);
      } catch {
        reason = null; // missing folder: its files report 'missing' themselves
      }
    }
    this.folders.set(relDir, reason);
    return reason;
  }
}

/** Bytes → normalised text, or the reason their content leaves the file out. */
export function decode(bytes: Uint8Array): Read {
  const decoded = decodeContent(bytes);
  return decoded.ok
    ? { text: decoded.text, utf8: decoded.changed ? undefined : bytes, diskBytes: bytes.length }
    : { reason: decoded.reason, diskBytes: bytes.length };
}

/** Up to limit + 1 bytes of a file (one more than allowed tells that it is too large), undefined if unreadable. */
function readAtMost(abs: string, limit: number): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const size = fs.fstatSync(fd).size;
    // Unpooled: small Buffers share one slab, which could not be transferred to the harvest's main thread.
    const buf = Buffer.allocUnsafeSlow(Math.min(size, limit) + 1);
    let filled = 0;
    while (filled < buf.length) {
      const n = fs.readSync(fd, buf, filled, buf.length - filled, filled);
      if (n === 0) break;
      filled += n;
    }
    return buf.subarray(0, filled);
  } catch {
    return undefined;
  } finally {
    fs.closeSync(fd);
  }
}
