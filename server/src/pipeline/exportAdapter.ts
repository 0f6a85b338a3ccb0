/**
 * "Export adapter": writes one run's adapter to a folder the user chose, as
 *   - peft:   the PEFT folder as trained (adapter_config.json, adapter_model.safetensors, repotune-adapter.json),
 *   - merged: base + adapter merged into one Hugging Face model folder (trainer RPC `export_merged`),
 *   - onnx:   the serving export (trainer RPC `export_onnx`, fp32 or int8/int4 weights),
 *   - gguf:   one llama.cpp file, base + adapter merged (trainer RPC `export_gguf`, f16 or Q8_0/Q4_0 weights).
 * Everything is written into a hidden staging folder beside the target and renamed into place at the end, so a
 * failed, cancelled or disk-full export leaves no partial output. Merged, ONNX and GGUF exports run in a worker of their
 * own: cancelling kills it at once, without touching the sidecar's training worker. Shared by the sidecar
 * (`repotune/exportAdapter`) and the CLI (`repotune export-adapter`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isDiskFull } from '../diskFull';
import type { ExportAdapterResult, ExportFormat, ExportQuantization } from '../protocol';
import { EXPORT_TIMEOUT_MS, TrainerError, type TrainerProcess } from '../training/trainerProcess';
import { SERVED_FILE, readActivePointer, workspaceDir } from './runStore';

const PEFT_FILES = ['adapter_config.json', 'adapter_model.safetensors'] as const;
/** Copied when present: where the adapter came from (base model, data manifest, metrics). */
const PEFT_OPTIONAL_FILES = ['repotune-adapter.json', 'README.md'] as const;
const ADAPTER_META = 'repotune-adapter.json';
/** Free space wanted beyond the estimated output size (file-system metadata, the temp copy of a rename). */
const DISK_HEADROOM_BYTES = 16 * 1024 ** 2;

export const EXPORT_FORMATS: readonly ExportFormat[] = ['peft', 'merged', 'onnx', 'gguf'];
/** Formats with a weight quantization option. */
const QUANTIZABLE_FORMATS: readonly ExportFormat[] = ['onnx', 'gguf'];
/** The trainer request and the progress line of each format the worker writes. */
const WORKER_EXPORTS: Record<Exclude<ExportFormat, 'peft'>, { method: string; describe: (run: string, model: string, q: ExportQuantization) => string }> = {
  merged: { method: 'export_merged', describe: (run, model) => `Merging the adapter of run ${run} into ${model}…` },
  onnx: { method: 'export_onnx', describe: (run, _m, q) => `Exporting run ${run} to ONNX (${q ?? 'fp32'})…` },
  gguf: { method: 'export_gguf', describe: (run, _m, q) => `Exporting run ${run} to GGUF (${q === 'int8' ? 'Q8_0' : q === 'int4' ? 'Q4_0' : 'f16'})…` },
};
export const EXPORT_QUANTIZATIONS: readonly Exclude<ExportQuantization, null>[] = ['int8', 'int4'];

export type ExportErrorKind = 'target_not_empty' | 'disk_full' | 'bad_run' | 'bad_request' | 'cancelled' | 'failed';

export class ExportAdapterError extends Error {
  constructor(message: string, readonly kind: ExportErrorKind) {
    super(message);
  }
}

export interface ExportAdapterOptions {
  storageDir: string;
  workspace: string;
  /** Omitted = the workspace's active run. */
  runId?: string;
  format: ExportFormat;
  quantize?: ExportQuantization;
  targetDir: string;
  overwrite?: boolean;
  /** A fresh worker for merged/ONNX exports; disposed (killed) when the export ends or is cancelled. */
  makeWorker: () => TrainerProcess;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

interface ExportSource {
  runId: string;
  adapterDir: string;
  /** Base model the adapter was trained on (from its metadata). */
  modelDir: string | undefined;
}

export async function exportAdapter(opts: ExportAdapterOptions): Promise<ExportAdapterResult> {
  const started = Date.now();
  const progress = opts.onProgress ?? (() => undefined);
  if (!EXPORT_FORMATS.includes(opts.format)) throw new ExportAdapterError(`Unknown export format "${opts.format}": use ${EXPORT_FORMATS.join(', ')}.`, 'bad_request');
  const quantize = opts.quantize ?? null;
  if (quantize !== null && (!QUANTIZABLE_FORMATS.includes(opts.format) || !EXPORT_QUANTIZATIONS.includes(quantize))) {
    throw new ExportAdapterError(`Quantization "${quantize}" applies to ONNX and GGUF exports only, as ${EXPORT_QUANTIZATIONS.join(' or ')}.`, 'bad_request');
  }
  const source = resolveSource(opts.storageDir, opts.workspace, opts.runId);
  if (opts.format !== 'peft' && (!source.modelDir || !fs.existsSync(source.modelDir))) {
    throw new ExportAdapterError(
      `Run ${source.runId} was trained on ${source.modelDir ?? 'an unknown base model'}, which is not on disk: only the PEFT folder can be exported.`,
      'bad_run',
    );
  }
  const target = path.resolve(opts.targetDir);
  checkTarget(target, source, opts.overwrite === true);
  checkFreeSpace(path.dirname(target), estimateBytes(opts.format, source));

  const staging = makeStaging(target);
  const out = path.join(staging, 'out');
  let worker: TrainerProcess | undefined;
  const onAbort = () => void worker?.dispose();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    throwIfCancelled(opts.signal);
    if (opts.format === 'peft') {
      progress(`Copying the PEFT adapter of run ${source.runId}…`);
      await copyPeft(source.adapterDir, out, opts.signal);
    } else {
      const job = WORKER_EXPORTS[opts.format];
      const params = { model_dir: source.modelDir, adapter_dir: source.adapterDir, out_dir: out };
      progress(job.describe(source.runId, path.basename(source.modelDir!), quantize));
      throwIfCancelled(opts.signal);
      // request() starts the worker synchronously: from here on, an abort kills a running process.
      worker = opts.makeWorker();
      await worker.request(job.method, opts.format === 'merged' ? params : { ...params, quantize }, EXPORT_TIMEOUT_MS);
    }
    throwIfCancelled(opts.signal);
    progress(`Moving the export into ${target}…`);
    fs.rmSync(target, { recursive: true, force: true });
    fs.renameSync(out, target);
    const files = listFiles(target);
    return {
      runId: source.runId,
      targetDir: target,
      files,
      bytes: files.reduce((n, f) => n + fs.statSync(path.join(target, f)).size, 0),
      seconds: (Date.now() - started) / 1000,
    };
  } catch (err) {
    throw describeFailure(err, target, opts.signal);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    fs.rmSync(staging, { recursive: true, force: true });
    await worker?.dispose();
  }
}

function resolveSource(storageDir: string, workspace: string, runId: string | undefined): ExportSource {
  const id = runId ?? readActivePointer(storageDir, workspace)?.runId;
  if (!id) throw new ExportAdapterError('This workspace has no active adapter: name the run to export.', 'bad_run');
  const runDir = path.join(workspaceDir(storageDir, workspace), 'runs', id);
  // The id may come from a client: it must name a folder directly under runs/, nothing else.
  if (path.basename(id) !== id || !fs.existsSync(runDir)) throw new ExportAdapterError(`There is no run "${id}" in this workspace.`, 'bad_run');
  // The adapter the run served (the best checkpoint may have won over the final one), else the final adapter.
  const served = readJson(path.join(runDir, SERVED_FILE));
  const adapterDir = typeof served?.adapterDir === 'string' && hasPeftFiles(served.adapterDir) ? served.adapterDir : path.join(runDir, 'adapter');
  if (!hasPeftFiles(adapterDir)) throw new ExportAdapterError(`Run ${id} has no saved adapter (training stopped before saving one).`, 'bad_run');
  const meta = readJson(path.join(adapterDir, ADAPTER_META));
  return { runId: id, adapterDir, modelDir: typeof meta?.base_model === 'string' ? meta.base_model : undefined };
}

function checkTarget(target: string, source: ExportSource, overwrite: boolean): void {
  const inside = (child: string, parent: string) => {
    const rel = path.relative(parent, child);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  };
  if (inside(source.adapterDir, target) || inside(target, source.adapterDir)) {
    throw new ExportAdapterError(`${target} holds or is inside the run's own adapter: choose another folder.`, 'bad_request');
  }
  if (!fs.existsSync(target)) return;
  if (!fs.statSync(target).isDirectory()) throw new ExportAdapterError(`${target} is a file, not a folder.`, 'bad_request');
  if (!overwrite && fs.readdirSync(target).length > 0) {
    throw new ExportAdapterError(`${target} is not empty: choose an empty folder, or replace what it holds.`, 'target_not_empty');
  }
}

/** Rough output size: the adapter for PEFT; the base model's weights for merged and fp32 ONNX (a quarter for int8…). */
function estimateBytes(format: ExportFormat, source: ExportSource): number {
  const sizeOf = (dir: string) => listFiles(dir).reduce((n, f) => n + fs.statSync(path.join(dir, f)).size, 0);
  if (format === 'peft') return sizeOf(source.adapterDir);
  return source.modelDir ? sizeOf(source.modelDir) : 0;
}

function checkFreeSpace(dir: string, needed: number): void {
  let existing = dir;
  while (!fs.existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  const stats = fs.statfsSync(existing);
  const free = stats.bavail * stats.bsize;
  if (free < needed + DISK_HEADROOM_BYTES) {
    throw new ExportAdapterError(`Not enough disk space in ${existing}: the export needs about ${mib(needed)}, ${mib(free)} is free. Nothing was written.`, 'disk_full');
  }
}

function makeStaging(target: string): string {
  try {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    return fs.mkdtempSync(path.join(path.dirname(target), `.${path.basename(target)}.repotune-export-`));
  } catch (err) {
    throw new ExportAdapterError(`Cannot write in ${path.dirname(target)}: ${(err as Error).message}`, 'failed');
  }
}

async function copyPeft(adapterDir: string, out: string, signal: AbortSignal | undefined): Promise<void> {
  fs.mkdirSync(out);
  for (const name of [...PEFT_FILES, ...PEFT_OPTIONAL_FILES]) {
    throwIfCancelled(signal);
    const from = path.join(adapterDir, name);
    if (fs.existsSync(from)) await fs.promises.copyFile(from, path.join(out, name));
  }
}

function describeFailure(err: unknown, target: string, signal: AbortSignal | undefined): ExportAdapterError {
  if (signal?.aborted) return new ExportAdapterError('Export cancelled; nothing was written.', 'cancelled');
  if (err instanceof ExportAdapterError) return err;
  const message = (err as Error).message ?? String(err);
  if (isDiskFull(err)) {
    return new ExportAdapterError(`The disk holding ${path.dirname(target)} is full; the partial export was removed. Free some space and export again.`, 'disk_full');
  }
  const kind = err instanceof TrainerError ? ` (${err.kind})` : '';
  return new ExportAdapterError(`Export failed${kind}: ${message}`, 'failed');
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new ExportAdapterError('Export cancelled; nothing was written.', 'cancelled');
}

function hasPeftFiles(dir: string): boolean {
  return PEFT_FILES.every((f) => fs.existsSync(path.join(dir, f)));
}

/** Files under `dir`, relative, sorted (an ONNX export is flat; a merged model may hold sharded weights). */
function listFiles(dir: string, prefix = ''): string[] {
  return fs
    .readdirSync(path.join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(dir, path.join(prefix, e.name)) : [path.join(prefix, e.name)]))
    .sort();
}

function readJson(file: string): any {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
