// Lists and checks what a VSIX (a zip) contains, without unzip: reads the zip's central directory.
import * as fs from 'node:fs';

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_ENTRY_SIGNATURE = 0x02014b50;
const EOCD_MIN_SIZE = 22;
const EOCD_MAX_COMMENT = 0xffff;

/** @returns {{name: string, size: number, compressedSize: number}[]} */
export function listZip(file) {
  const buf = fs.readFileSync(file);
  const searchFrom = Math.max(0, buf.length - EOCD_MIN_SIZE - EOCD_MAX_COMMENT);
  let eocd = -1;
  for (let i = buf.length - EOCD_MIN_SIZE; i >= searchFrom; i--) {
    if (buf.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new Error(`${file} is not a zip file (no end-of-central-directory record)`);
  const count = buf.readUInt16LE(eocd + 10);
  let offset = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(offset) !== CENTRAL_ENTRY_SIGNATURE) throw new Error(`${file}: corrupt central directory`);
    const compressedSize = buf.readUInt32LE(offset + 20);
    const size = buf.readUInt32LE(offset + 24);
    const nameLen = buf.readUInt16LE(offset + 28);
    const extraLen = buf.readUInt16LE(offset + 30);
    const commentLen = buf.readUInt16LE(offset + 32);
    entries.push({ name: buf.toString('utf8', offset + 46, offset + 46 + nameLen), size, compressedSize });
    offset += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Files the installed extension cannot work without. */
export const REQUIRED_FILES = [
  'extension/package.json',
  'extension/LICENSE.txt',
  'extension/readme.md',
  'extension/dist/extension.js',
  'extension/dist/server.js',
  'extension/dist/harvestWorker.js',
  'extension/dist/ortWorker.js',
  'extension/dist/harvestNative.node',
  'extension/dist/tree-sitter/tree-sitter.wasm',
  'extension/dist/tree-sitter/tree-sitter-python.wasm',
  'extension/dist/tree-sitter/tree-sitter-typescript.wasm',
  'extension/dist/tree-sitter/tree-sitter-go.wasm',
  'extension/dist/tree-sitter/tree-sitter-rust.wasm',
  'extension/server/trainer/repotune_trainer/rpc.py',
  'extension/server/trainer/repotune_trainer/smoke_run.py',
  'extension/server/trainer/requirements.txt',
  // The first-run walkthrough's pages (package.json contributes.walkthroughs).
  'extension/media/walkthrough/checkEnvironment.md',
  'extension/media/walkthrough/setupEnvironment.md',
  'extension/media/walkthrough/chooseModel.md',
  'extension/media/walkthrough/fineTune.md',
  'extension/node_modules/onnxruntime-node/package.json',
  'extension/node_modules/onnxruntime-node/dist/index.js',
  'extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/onnxruntime_binding.node',
  'extension/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1',
  'extension/node_modules/onnxruntime-common/dist/cjs/index.js',
];

/** Things that must never ship: other platforms' binaries, sources, tests, caches, maps, state. */
export const FORBIDDEN_PATTERNS = [
  /\/bin\/napi-v\d+\/(darwin|win32)\//,
  /\/bin\/napi-v\d+\/linux\/arm64\//,
  /^extension\/src\//,
  /^extension\/test\//,
  /^extension\/server\/src\//,
  /^extension\/server\/trainer\/tests\//,
  /__pycache__|\.pyc$/,
  /\.map$/,
  /^extension\/\.(cache|venv|repotune)\//,
  /^extension\/node_modules\/(adm-zip|global-agent)\//,
];

/** Returns the problems found (empty = good). */
export function checkContents(entries) {
  const names = new Set(entries.map((e) => e.name));
  const problems = REQUIRED_FILES.filter((f) => !names.has(f)).map((f) => `missing ${f}`);
  for (const e of entries) {
    if (FORBIDDEN_PATTERNS.some((re) => re.test(e.name))) problems.push(`must not ship ${e.name}`);
  }
  return problems;
}
