/**
 * Downloads a model from a Hugging Face-compatible hub into the standard HF cache layout
 * (`models--org--name/{blobs,snapshots/<commit>,refs}`), so that transformers, PEFT and RepoTune all find it:
 * resumable (`.incomplete` blobs continued with a Range request), verified (sha256 for LFS files, git blob sha1
 * for the others, as the hub's ETag gives them), safetensors only, and with a clear message offline.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
/** A stalled connection is abandoned after this long without a byte; the next attempt resumes. */
export const STALL_TIMEOUT_MS = 60_000;
/** Attempts per file (each resumes where the last one stopped). */
export const MAX_ATTEMPTS = 4;
/** Files a causal-LM directory needs; weights only as safetensors (pickle files can run code when loaded). */
const WANTED = [/^config\.json$/, /^generation_config\.json$/, /^tokenizer\.json$/, /^tokenizer_config\.json$/, /^special_tokens_map\.json$/, /\.safetensors$/, /^model\.safetensors\.index\.json$/];

export interface DownloadOptions {
  repoId: string;
  revision?: string;
  /** The hub cache root (HF_HUB_CACHE), e.g. ~/.cache/huggingface/hub. */
  cacheDir: string;
  endpoint?: string;
  token?: string;
  signal?: AbortSignal;
  onProgress?: (p: { file: string; bytes: number; totalBytes: number }) => void;
}

export class HubError extends Error {}

/** The hub cache root as huggingface_hub resolves it: HF_HUB_CACHE, then $HF_HOME/hub, then ~/.cache/huggingface/hub. */
export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  const home = env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
  return path.join(home, 'hub');
}

interface FileInfo {
  name: string;
  etag: string;
  size: number;
}

/** Downloads what is missing and returns the snapshot directory (a ready HF model directory). */
export async function downloadModel(opts: DownloadOptions): Promise<string> {
  const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/$/, '');
  const revision = opts.revision ?? 'main';
  const repoDir = path.join(opts.cacheDir, `models--${opts.repoId.replace(/\//g, '--')}`);
  if (process.env.HF_HUB_OFFLINE === '1') return offlineSnapshot(repoDir, revision, opts.repoId);

  const info = await getJson(`${endpoint}/api/models/${opts.repoId}/revision/${encodeURIComponent(revision)}`, opts);
  const commit: string = info.sha;
  const names: string[] = (info.siblings ?? []).map((s: { rfilename: string }) => s.rfilename).filter((n: string) => WANTED.some((re) => re.test(n)));
  if (!names.some((n) => n.endsWith('.safetensors'))) {
    throw new HubError(`${opts.repoId} has no .safetensors weights; RepoTune does not load pickle weights from the hub.`);
  }
  const snapshot = path.join(repoDir, 'snapshots', commit);
  for (const name of names.sort()) {
    const file = await headFile(`${endpoint}/${opts.repoId}/resolve/${commit}/${name}`, name, opts);
    const blob = path.join(repoDir, 'blobs', file.etag);
    if (!fs.existsSync(blob)) await fetchBlob(`${endpoint}/${opts.repoId}/resolve/${commit}/${name}`, file, blob, opts);
    linkIntoSnapshot(blob, path.join(snapshot, name));
  }
  fs.mkdirSync(path.join(repoDir, 'refs'), { recursive: true });
  fs.writeFileSync(path.join(repoDir, 'refs', revision), commit);
  return snapshot;
}

function offlineSnapshot(repoDir: string, revision: string, repoId: string): string {
  const ref = path.join(repoDir, 'refs', revision);
  if (!fs.existsSync(ref)) throw new HubError(`Offline (HF_HUB_OFFLINE=1) and ${repoId}@${revision} is not in the cache: choose a local model directory.`);
  return path.join(repoDir, 'snapshots', fs.readFileSync(ref, 'utf8').trim());
}

function headers(opts: DownloadOptions, extra: Record<string, string> = {}): Record<string, string> {
  const token = opts.token ?? process.env.HF_TOKEN;
  return { 'user-agent': 'repotune/0.1', ...(token ? { authorization: `Bearer ${token}` } : {}), ...extra };
}

async function request(url: string, opts: DownloadOptions, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: opts.signal });
  } catch (err) {
    if (opts.signal?.aborted) throw new HubError('Download cancelled.');
    throw new HubError(`The model hub is unreachable (${(err as Error).message}). Check the network, or choose a local model directory.`);
  }
  if (res.status === 401 || res.status === 403) throw new HubError(`${url}: access denied (${res.status}). Set HF_TOKEN for gated or private models.`);
  if (res.status === 404) throw new HubError(`${url}: not found on the hub (check the model id and revision).`);
  if (!res.ok && res.status !== 206) throw new HubError(`${url}: the hub answered ${res.status} ${res.statusText}.`);
  return res;
}

async function getJson(url: string, opts: DownloadOptions): Promise<any> {
  return (await request(url, opts, { headers: headers(opts) })).json();
}

async function headFile(url: string, name: string, opts: DownloadOptions): Promise<FileInfo> {
  const res = await request(url, opts, { method: 'HEAD', headers: headers(opts, { 'accept-encoding': 'identity' }) });
  // LFS files: X-Linked-Etag/X-Linked-Size describe the real content behind the redirect.
  const etag = (res.headers.get('x-linked-etag') ?? res.headers.get('etag') ?? '').replace(/^W\//, '').replace(/"/g, '');
  const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length') ?? NaN);
  if (!/^[0-9a-f]{40}$|^[0-9a-f]{64}$/.test(etag) || !Number.isFinite(size)) throw new HubError(`${url}: the hub gave no usable ETag/size for ${name}.`);
  return { name, etag, size };
}

async function fetchBlob(url: string, file: FileInfo, blob: string, opts: DownloadOptions): Promise<void> {
  fs.mkdirSync(path.dirname(blob), { recursive: true });
  const partial = `${blob}.incomplete`;
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const have = fs.existsSync(partial) ? fs.statSync(partial).size : 0;
    if (have < file.size) {
      try {
        await appendRange(url, partial, have, file, opts);
      } catch (err) {
        if (err instanceof HubError && !/stalled|terminated|closed/.test(err.message)) throw err;
        lastError = err as Error;
        continue;
      }
    }
    if (fs.statSync(partial).size !== file.size) continue;
    if (!(await verify(partial, file))) {
      fs.rmSync(partial);
      throw new HubError(`${file.name}: checksum mismatch after download (expected ${file.etag}); the partial file was removed, retry.`);
    }
    fs.renameSync(partial, blob);
    return;
  }
  throw new HubError(`${file.name}: download did not complete after ${MAX_ATTEMPTS} attempts (${lastError?.message ?? 'short read'}). Run again to resume.`);
}

async function appendRange(url: string, partial: string, from: number, file: FileInfo, opts: DownloadOptions): Promise<void> {
  const res = await request(url, opts, { headers: headers(opts, from > 0 ? { range: `bytes=${from}-` } : {}) });
  // A server that ignores Range sends the whole file again: start over rather than append a duplicate.
  const out = fs.createWriteStream(partial, { flags: from > 0 && res.status === 206 ? 'a' : 'w' });
  let bytes = from > 0 && res.status === 206 ? from : 0;
  let stall: NodeJS.Timeout | undefined;
  const reader = res.body!.getReader();
  try {
    for (;;) {
      const chunk = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => (stall = setTimeout(() => reject(new HubError(`${file.name}: download stalled`)), STALL_TIMEOUT_MS))),
      ]);
      clearTimeout(stall);
      if (chunk.done) break;
      if (!out.write(chunk.value)) await new Promise<void>((r) => out.once('drain', () => r()));
      bytes += chunk.value.byteLength;
      opts.onProgress?.({ file: file.name, bytes, totalBytes: file.size });
    }
  } catch (err) {
    if (err instanceof HubError) throw err;
    throw new HubError(`${file.name}: connection closed early (${(err as Error).message})`);
  } finally {
    clearTimeout(stall);
    await new Promise((r) => out.end(r));
  }
}

/** Streams the file through the hash the ETag is made of (weights can be many GB: never read them whole). */
async function verify(file: string, info: FileInfo): Promise<boolean> {
  const lfs = info.etag.length === 64;
  const hash = crypto.createHash(lfs ? 'sha256' : 'sha1');
  // Non-LFS files: the ETag is git's blob id, sha1("blob <size>\0" + content).
  if (!lfs) hash.update(`blob ${fs.statSync(file).size}\0`);
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex') === info.etag;
}

function linkIntoSnapshot(blob: string, target: string): void {
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.rmSync(target, { force: true });
  try {
    fs.symlinkSync(path.relative(path.dirname(target), blob), target);
  } catch {
    fs.copyFileSync(blob, target); // file systems without symlinks (as huggingface_hub does)
  }
}
