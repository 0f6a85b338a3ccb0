// A Hugging Face-compatible hub on 127.0.0.1 for the e2e "Choose model" check (the VS Code server gets it as
// HF_ENDPOINT). It serves the files of `hub.modelDir` (set by the check: the demo model the first fine-tune made)
// under any repository id, with the endpoints the client uses: revision info, HEAD with (X-Linked-)ETag and size,
// GET with Range. The first GET of a .safetensors file is cut off halfway, once, so the client must resume.
// Adapted from test/unit/hubDownload.test.ts.
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';

const COMMIT = 'e2e0'.repeat(10);

function gitBlobSha1(data) {
  return crypto.createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
}

export async function startFakeHub() {
  const hub = { url: '', modelDir: undefined, cutDone: false, rangeRequests: [], gets: [], close: async () => undefined };
  const read = (name) => {
    const file = hub.modelDir && path.join(hub.modelDir, name);
    return file && !name.includes('..') && fs.existsSync(file) && fs.statSync(file).isFile() ? fs.readFileSync(file) : undefined;
  };
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent(req.url ?? '');
    const info = url.match(/^\/api\/models\/([^/]+\/[^/]+)\/revision\//);
    if (info && hub.modelDir) {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ sha: COMMIT, siblings: fs.readdirSync(hub.modelDir).map((rfilename) => ({ rfilename })) }));
      return;
    }
    const m = url.match(/^\/[^/]+\/[^/]+\/resolve\/[0-9a-z]+\/(.+)$/);
    const data = m && read(m[1]);
    if (!data) {
      res.statusCode = 404;
      res.end();
      return;
    }
    const lfs = m[1].endsWith('.safetensors');
    const etag = lfs ? crypto.createHash('sha256').update(data).digest('hex') : gitBlobSha1(data);
    res.setHeader(lfs ? 'x-linked-etag' : 'etag', `"${etag}"`);
    if (lfs) res.setHeader('x-linked-size', String(data.length));
    if (req.method === 'HEAD') {
      res.setHeader('content-length', String(data.length));
      res.end();
      return;
    }
    hub.gets.push(m[1]);
    const range = req.headers.range?.match(/bytes=(\d+)-/);
    const from = range ? Number(range[1]) : 0;
    if (range) hub.rangeRequests.push(`${m[1]} ${req.headers.range}`);
    const body = data.subarray(from);
    res.statusCode = range ? 206 : 200;
    res.setHeader('content-length', String(body.length));
    if (lfs && !hub.cutDone) {
      hub.cutDone = true;
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.destroy());
      return;
    }
    res.end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  hub.url = `http://127.0.0.1:${server.address().port}`;
  hub.close = () => new Promise((r) => server.close(() => r()));
  return hub;
}
