// A Hugging Face-compatible hub on 127.0.0.1, for the hub client's unit test (test/unit/hubDownload.test.ts) and
// the e2e "Choose model" check (test/e2e/fakeHub.mjs, given to the VS Code server as HF_ENDPOINT). It speaks the
// endpoints the client uses: revision info, HEAD with (X-Linked-)ETag and size, GET with Range. It can cut the next
// weights download off midway (the client must resume) and serve corrupt bytes (the client must refuse them).
// Types: fakeHub.d.mts.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

export const FAKE_HUB_COMMIT = 'a'.repeat(40);

function gitBlobSha1(data) {
  return crypto.createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

/**
 * @param {{ files?: Record<string, Buffer>, modelDir?: string, repoIds?: string[], extraSiblings?: string[],
 *           cutNextDownload?: number | 'half', commit?: string }} options
 */
export async function startFakeHub(options = {}) {
  const hub = {
    url: '',
    files: options.files,
    modelDir: options.modelDir,
    cutNextDownload: options.cutNextDownload,
    corrupt: false,
    rangeRequests: [],
    gets: [],
    close: async () => undefined,
  };
  const commit = options.commit ?? FAKE_HUB_COMMIT;
  const names = () => (hub.files ? Object.keys(hub.files) : hub.modelDir ? fs.readdirSync(hub.modelDir) : []);
  const read = (name) => {
    if (name.includes('..')) return undefined;
    if (hub.files) return hub.files[name];
    const file = hub.modelDir && path.join(hub.modelDir, name);
    return file && fs.existsSync(file) && fs.statSync(file).isFile() ? fs.readFileSync(file) : undefined;
  };
  const known = (repoId) => !options.repoIds || options.repoIds.includes(repoId);

  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    const info = url.match(/^\/api\/models\/([^/]+\/[^/]+)\/revision\//);
    if (info && known(info[1]) && names().length) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ sha: commit, siblings: [...names(), ...(options.extraSiblings ?? [])].map((rfilename) => ({ rfilename })) }));
      return;
    }
    const m = url.match(/^\/([^/]+\/[^/]+)\/resolve\/[0-9a-z]+\/(.+)$/);
    const data = m && known(m[1]) ? read(m[2]) : undefined;
    if (!data) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const file = m[2];
    const lfs = file.endsWith('.safetensors');
    const etag = lfs ? crypto.createHash('sha256').update(data).digest('hex') : gitBlobSha1(data);
    res.setHeader(lfs ? 'x-linked-etag' : 'etag', `"${etag}"`);
    if (lfs) res.setHeader('x-linked-size', String(data.length));
    if (req.method === 'HEAD') {
      res.setHeader('content-length', String(data.length));
      res.end();
      return;
    }
    hub.gets.push(file);
    const range = req.headers.range?.match(/bytes=(\d+)-/);
    const from = range ? Number(range[1]) : 0;
    if (range) hub.rangeRequests.push(`${file} ${req.headers.range}`);
    const body = hub.corrupt ? Buffer.alloc(data.length, 7).subarray(from) : data.subarray(from);
    res.statusCode = range ? 206 : 200;
    res.setHeader('content-length', String(body.length));
    if (lfs && hub.cutNextDownload !== undefined) {
      const cut = hub.cutNextDownload === 'half' ? Math.floor(body.length / 2) : hub.cutNextDownload;
      hub.cutNextDownload = undefined;
      res.write(body.subarray(0, cut), () => res.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  hub.url = `http://127.0.0.1:${server.address().port}`;
  hub.close = () => new Promise((resolve) => server.close(() => resolve()));
  return hub;
}
