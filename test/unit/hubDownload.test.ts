/**
 * The real hub client against a local fake hub (test/helpers/fakeHub.mjs, 127.0.0.1) that speaks the Hugging Face
 * endpoints the client uses: revision info, HEAD with (X-Linked-)ETag/size, GET with Range. The fake can cut a
 * download midway to test resume.
 */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { downloadModel, HubError } from '../../server/src/models/hubDownload';
import { tempDir } from '../helpers/paths';
import { startFakeHub, type FakeHub } from '../helpers/fakeHub.mjs';

const COMMIT = 'a'.repeat(40);
const WEIGHTS = crypto.randomBytes(300_000);
const CONFIG = Buffer.from('{"model_type": "qwen2"}\n');

/** The fake hub with `files` under org/tiny only, listing a pickle file it does not serve (the client must skip it). */
function startHub(files: Record<string, Buffer>): Promise<FakeHub> {
  return startFakeHub({ files, repoIds: ['org/tiny'], extraSiblings: ['pytorch_model.bin'], commit: COMMIT });
}

const FILES = { 'config.json': CONFIG, 'model.safetensors': WEIGHTS, 'README.md': Buffer.from('card') };

test('downloads into the HF cache layout, skipping unwanted and pickle files', async () => {
  const hub = await startHub(FILES);
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
  const hub = await startHub(FILES);
  try {
    hub.cutNextDownload = 100_000;
    const cacheDir = tempDir('hub');
    const snapshot = await downloadModel({ repoId: 'org/tiny', cacheDir, endpoint: hub.url });
    assert.ok(hub.rangeRequests.some((r) => Number(/^model\.safetensors bytes=(\d+)-$/.exec(r)?.[1]) > 0), `resumed: ${hub.rangeRequests}`);
    assert.ok(fs.readFileSync(path.join(snapshot, 'model.safetensors')).equals(WEIGHTS));
    const blobs = fs.readdirSync(path.join(cacheDir, 'models--org--tiny', 'blobs'));
    assert.ok(!blobs.some((b) => b.endsWith('.incomplete')), 'no partial left');
  } finally {
    await hub.close();
  }
});

test('a checksum mismatch is an error and leaves no blob', async () => {
  const hub = await startHub(FILES);
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
  const hub = await startHub({ 'config.json': CONFIG });
  try {
    await assert.rejects(downloadModel({ repoId: 'org/tiny', cacheDir, endpoint: hub.url }), /no \.safetensors weights/);
    await assert.rejects(downloadModel({ repoId: 'org/missing', cacheDir, endpoint: hub.url }), /not found on the hub/);
  } finally {
    await hub.close();
  }
});
