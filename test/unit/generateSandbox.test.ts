/** The smoke-run sandbox: a known-good model passes; an endless loop is killed at the timeout; sockets, processes and
 * writes outside the folder are refused; the temporary folder is gone afterwards in every case. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { runSmokeTest } from '../../server/src/generate/sandbox';
import { checkPythonSyntax } from '../../server/src/generate/parseCheck';
import { buildSkeleton, MODULE_NAME, torchSmokeTest } from '../../server/src/generate/skeleton';
import { assembleCode } from '../../server/src/generate/generator';
import { parseSpec } from '../../server/src/generate/spec';
import { CACHE_DIR, TRAINER_DIR, pythonPath } from '../helpers/paths';

/** Short, so the endless loop costs little; Python without torch starts in well under a second. */
const LOOP_TIMEOUT_MS = 2_000;
/** The kill must land close to the timeout, not when some later cleanup happens. */
const KILL_SLACK_MS = 3_000;

const run = (smoke: string, extra: Record<string, string> = {}, timeoutMs?: number) =>
  runSmokeTest({ python: pythonPath(), trainerDir: TRAINER_DIR, files: { 'smoke_test.py': smoke, ...extra }, timeoutMs });

const GOOD_BODY = [
  '        self.net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))',
  '',
  '    def forward(self, x):',
  '        return self.net(x)',
].join('\n');

test('a known-good model passes the generated torch smoke test; the folder is removed', async () => {
  const spec = parseSpec({ task: 'tiny classifier', inputs: 'x: float32[B, 16]', outputs: 'logits: float32[B, 4]', loss: 'cross_entropy' });
  const skeleton = buildSkeleton(spec);
  const code = assembleCode(skeleton, GOOD_BODY);
  assert.deepEqual(await checkPythonSyntax(pythonPath(), code), { ok: true });
  const r = await run(torchSmokeTest(spec, skeleton.className), { [`${MODULE_NAME}.py`]: code });
  assert.equal(r.passed, true, r.output);
  assert.match(r.output, /smoke test passed: outputs \[\(2, 4\)\], loss \d/);
  assert.equal(fs.existsSync(r.sandboxDir), false);

  // The same test catches a model whose output shape does not match the spec.
  const wrong = assembleCode(skeleton, GOOD_BODY.replace('nn.Linear(32, 4)', 'nn.Linear(32, 5)'));
  const bad = await run(torchSmokeTest(spec, skeleton.className), { [`${MODULE_NAME}.py`]: wrong });
  assert.equal(bad.passed, false);
  assert.match(bad.output, /output logits: shape \(2, 5\), the spec declares \(2, 4\)/);
});

test('an endless loop is killed at the timeout', async () => {
  const t0 = Date.now();
  const r = await run('while True:\n    pass\n', {}, LOOP_TIMEOUT_MS);
  const elapsed = Date.now() - t0;
  assert.equal(r.timedOut, true);
  assert.equal(r.passed, false);
  assert.ok(elapsed >= LOOP_TIMEOUT_MS && elapsed < LOOP_TIMEOUT_MS + KILL_SLACK_MS, `killed after ${elapsed} ms`);
  assert.match(r.output, /killed: no result within 2 s/);
  assert.equal(fs.existsSync(r.sandboxDir), false);
});

test('no network: a socket connect fails and nothing reaches a listening server', async () => {
  let connections = 0;
  const server = net.createServer((s) => {
    connections++;
    s.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const r = await run(`import socket\ns = socket.socket()\ns.connect(("127.0.0.1", ${port}))\nprint("connected")\n`);
    assert.equal(r.passed, false);
    assert.match(r.output, /PermissionError: network access is disabled in the RepoTune smoke test \(socket\.connect\)/);
    assert.doesNotMatch(r.output, /connected/);
    const dns = await run('import socket\nsocket.getaddrinfo("example.com", 80)\n');
    assert.match(dns.output, /network access is disabled .*socket\.getaddrinfo/);
    // The environment's proxies point nowhere, for libraries that would go through one.
    const env = await run('import os\nprint(os.environ["https_proxy"], os.environ["HOME"] == os.getcwd())\n');
    assert.match(env.output, /http:\/\/192\.0\.2\.1:9 True/);
    assert.equal(fs.existsSync(r.sandboxDir), false);
  } finally {
    server.close();
  }
  assert.equal(connections, 0, 'the listening server saw a connection');
});

test('no processes and no writes outside the folder; writes inside are fine', async () => {
  const outside = path.join(CACHE_DIR, `smoke-outside-${process.pid}.txt`);
  const r = await run(
    [
      'import subprocess, os',
      'try:',
      '    subprocess.run(["true"])',
      'except PermissionError as e:',
      '    print("refused:", e)',
      `try:`,
      `    open(${JSON.stringify(outside)}, "w")`,
      'except PermissionError as e:',
      '    print("refused:", e)',
      'open("inside.txt", "w").write("ok")',
      'print("inside ok")',
    ].join('\n'),
  );
  assert.equal(r.passed, true, r.output);
  assert.match(r.output, /refused: starting processes is disabled/);
  assert.match(r.output, /refused: writing outside the smoke-test folder is disabled/);
  assert.match(r.output, /inside ok/);
  assert.equal(fs.existsSync(outside), false);
  assert.equal(fs.existsSync(r.sandboxDir), false);
});

test('the parse check reports the syntax error with its line', async () => {
  const r = await checkPythonSyntax(pythonPath(), 'def f(:\n    pass\n');
  assert.equal(r.ok, false);
  assert.equal(r.line, 1);
  assert.match(r.error ?? '', /^SyntaxError: .* \(line 1\): `def f\(:`/);
  await assert.rejects(checkPythonSyntax('/nonexistent/python', 'x = 1'), /Cannot start Python for the parse check/);
});
