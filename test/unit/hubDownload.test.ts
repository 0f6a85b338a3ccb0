/**
 * The real hub client against a local fake hub (127.0.0.1) that speaks the Hugging Face endpoints the client uses:
 * revision info, HEAD with (X-Linked-)ETag/size, GET with Range. The fake can cut a download midway to test resume.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { downloadModel, HubError } from '../../server/src/models/hubDownload';
import { tempDir } from '../helpers/paths';

const COMMIT = 'a'.repeat(40);
const WEIGHTS = crypto.randomBytes(300_000);
const CONFIG = Buffer.from('{"model_type": "qwen2"}\n');

interface FakeHub {
  url: string;
  /** Bytes after which the next GET of the weights is cut off (once), or undefined. */
  cutAfter?: number;
  corrupt?: boolean;
  rangeRequests: string[];
  close(): Promise<void>;
}

function gitBlobSha1(data: Buffer): string {
  return crypto.createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

async function startFakeHub(files: Record<string, Buffer>): Promise<FakeHub> {
  const hub: FakeHub = { url: '', rangeRequests: [], close: async () => undefined };
  const server = http.createServer((req, res) => {
    const url = req.url ?? '';
    if (url.startsWith('/api/models/org/tiny/revision/')) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ sha: COMMIT, siblings: [...Object.keys(files), 'pytorch_model.bin'].map((rfilename) => ({ rfilename })) }));
      return;
    }
    const m = url.match(/^\/org\/tiny\/resolve\/([0-9a-f]+)\/(.+)$/);
    const data = m && files[m[2]];
    if (!data) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const lfs = m[2].endsWith('.safetensors');
    const etag = lfs ? crypto.createHash('sha256').update(data).digest('hex') : gitBlobSha1(data);
    res.setHeader(lfs ? 'x-linked-etag' : 'etag', `"${etag}"`);
    if (lfs) res.setHeader('x-linked-size', String(data.length));
    if (req.method === 'HEAD') {
      res.setHeader('content-length', String(data.length));
      res.end();
      return;
    }
    const range = req.headers.range?.match(/bytes=(\d+)-/);
    const from = range ? Number(range[1]) : 0;
    if (range) hub.rangeRequests.push(req.headers.range!);
    const body = hub.corrupt ? Buffer.alloc(data.length, 7).subarray(from) : data.subarray(from);
    res.statusCode = range ? 206 : 200;
    res.setHeader('content-length', String(body.length));
    if (hub.cutAfter !== undefined && lfs) {
      const cut = hub.cutAfter;
      hub.cutAfter = undefined;
      res.write(body.subarray(0, cut), () => res.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.close = () => new Promise((r) => server.close(() => r()));
  return hub;
}

const FILES = { 'config.json': CONFIG, 'model.safetensors': WEIGHTS, 'README.md': Buffer.from('card') };

test('downloads into the HF cache layout, skipping unwanted and pickle files', async () => {
  const hub = await startFakeHub(FILES);
  try {
    const cacheDir = tempDir('hub');
    const progress: number[] = [];
    const snapshot = await downloadModel({ repoId: 'org/tiny', cacheDir, endpoint: hub.url, onProgress: (p) => progress.push(p.bytes) });
    assert.equal(snapshot, path.join(cacheDir, 'models--org--tiny', 'snapshots', COMMIT));
    assert.deepEqual(fs.readdirSync(snapshot).sort(), ['config.json', 'model.safetensors']);
    assert.ok(fs.lstatSync(path.join(snapshot, 'model.safetensors')).isSymbolicLink(), 'snapshot files link into blobs/');
    assert.ok(fs.readFileSync(path.join(snapshot, 'model.safetensors')).equals(WEIGHTS));
    assert.equal(fs.readFileSync(path.join(cacheDir, 'models--org--tiny', 'refs', 'main'), 'utf8'), COMMIT);
    assert.equal(progress.at(-1), WEIGHTS.length);
  } finally {
    await hub.close();
  }
});

test('an interrupted download resumes with a Range request and verifies', async () => {
  const hub = await startFakeHub(FILES);
  try {
    hub.cutAfter = 100_000;
    const cacheDir = tempDir('hub');
    const snapshot = await downloadModel({ repoId: 'org/tiny', cacheDir, endpoint: hub.url });
    assert.ok(hub.rangeRequests.some((r) => /^bytes=\d+-$/.test(r) && Number(r.slice(6, -1)) > 0), `resumed: ${hub.rangeRequests}`);
    assert.ok(fs.readFileSync(path.join(snapshot, 'model.safetensors')).equals(WEIGHTS));
    const blobs = fs.readdirSync(path.join(cacheDir, 'models--org--tiny', 'blobs'));
    assert.ok(!blobs.some((b) => b.endsWith('.incomplete')), 'no partial left');
  } finally {
    await hub.close();
  }
});

test('a checksum mismatch is an error and leaves no blob', async () => {
  const hub = await startFakeHub(FILES);
  try {
    hub.corrupt = true;
    const cacheDir = tempDir('hub');
    await assert.rejects(downloadModel({ repoId: 'org/tiny', cacheDir, endpoint: hub.url }), /checksum mismatch/);
    const blobs = path.join(cacheDir, 'models--org--tiny', 'blobs');
    assert.deepEqual(fs.existsSync(blobs) ? fs.readdirSync(blobs).filter((b) => b.length === 64) : [], []);
  } finally {
    await hub.close();
  }
});

test('offline and unreachable hubs give actionable messages', async () => {
  const cacheDir = tempDir('hub');
  await assert.rejects(downloadModel({ repoId: 'org/tiny', cacheDir, endpoint: 'http://127.0.0.1:9' }), (e: unknown) =>
    e instanceof HubError && /unreachable.*local model directory/.test(e.message),
  );
  const saved = process.env.HF_HUB_OFFLINE;
  process.env.HF_HUB_OFFLINE = '1';
  try {
    await assert.rejects(downloadModel({ repoId: 'org/tiny', cacheDir }), /Offline .* not in the cache/);
  } finally {
    if (saved === undefined) delete process.env.HF_HUB_OFFLINE;
    else process.env.HF_HUB_OFFLINE = saved;
  }
  const hub = await startFakeHub({ 'config.json': CONFIG });
  try {
    await assert.rejects(downloadModel({ repoId: 'org/tiny', cacheDir, endpoint: hub.url }), /no \.safetensors weights/);
    await assert.rejects(downloadModel({ repoId: 'org/missing', cacheDir, endpoint: hub.url }), /not found on the hub/);
  } finally {
    await hub.close();
  }
});
