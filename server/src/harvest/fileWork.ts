/**
 * The per-file part of the harvest — read, decode, scan for secrets, redact, hash, sign — as one pure step that
 * runs in the harvest's thread or in a worker thread (pool.ts) with the same result. Everything after it (store,
 * holdout, deduplication) needs all files and stays in the harvest.
 */
import { createHash } from 'node:crypto';
import { minhashSignature, type Signature } from './neardup';
import { nativeMinhash, plainFileScanner, type PlainFile } from './native';
import { decode, FileReader } from './read';
import { scanSecrets, secretlintChecksPath } from './secretlint';
import { applyRedactions } from './secrets';
import type { PackedText } from './store';
import type { ExclusionReason, SecretsMode } from './types';

export interface FileWorkSettings {
  readonly root: string;
  readonly maxBytes: number;
  readonly secrets: SecretsMode;
  /** Use the native addon when it is built (default); false: JavaScript for every file. */
  readonly native?: boolean;
  /** Ask the native scan about each file first (default); false when it already declined these files. */
  readonly plainScan?: boolean;
}

interface Outcome {
  readonly path: string;
  /** Bytes read from disk (0 when the file was left out before reading). */
  readonly diskBytes: number;
  /** Secrets found per rule; counted even when the file is then dropped for them. */
  readonly secretCounts: Record<string, number>;
}

export type FileOutcome =
  | (Outcome & { readonly reason: ExclusionReason })
  | (Outcome & {
      /**
       * The kept text as UTF-8, in a buffer of its own (sent to the main thread by transfer, not by copy), or where
       * the native scan already appended it to the corpus pack.
       */
      readonly content: Uint8Array | PackedText;
      readonly sha256: string;
      readonly signature: Signature | undefined;
    });

const encoder = new TextEncoder();

export class FileWork {
  private readonly reader: FileReader;
  private readonly plain: ((bytes: Uint8Array) => PlainFile | null) | undefined;
  private readonly sign: (utf8: Uint8Array) => Signature | undefined;

  constructor(private readonly settings: FileWorkSettings) {
    this.reader = new FileReader(settings.root, settings.maxBytes);
    const native = settings.native !== false;
    this.plain = native && settings.plainScan !== false ? plainFileScanner() : undefined;
    // The addon's MinHash is the same function, bit for bit (harvestNative.test.ts), several times faster.
    this.sign = (native && nativeMinhash()) || minhashSignature;
  }

  async process(rel: string): Promise<FileOutcome> {
    const raw = this.reader.readBytes(rel);
    if ('reason' in raw) return { path: rel, diskBytes: raw.diskBytes, secretCounts: {}, reason: raw.reason };
    // Most files are plain: the native scan settles them without decoding (see native.ts).
    const plain = this.plain && !secretlintChecksPath(rel) ? this.plain(raw.bytes) : null;
    if (plain) {
      const { sha256, signature } = plain;
      return { path: rel, diskBytes: raw.bytes.length, secretCounts: {}, content: raw.bytes, sha256, signature: signature ?? undefined };
    }
    const read = decode(raw.bytes);
    if ('reason' in read) return { path: rel, diskBytes: read.diskBytes, secretCounts: {}, reason: read.reason };
    const findings = await scanSecrets(read.text, rel);
    const redaction = applyRedactions(read.text, findings);
    const base = { path: rel, diskBytes: read.diskBytes, secretCounts: redaction.counts };
    if (findings.length > 0 && this.settings.secrets === 'drop') return { ...base, reason: 'secret' };
    const text = redaction.text;
    // The bytes read stand for the text unless decoding or redaction changed it: no second UTF-8 encoding then.
    const content = text === read.text && read.utf8 ? read.utf8 : encoder.encode(text);
    return {
      ...base,
      content,
      sha256: createHash('sha256').update(content).digest('hex'),
      signature: this.sign(content),
    };
  }
}
