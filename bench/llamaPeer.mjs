// The llama.cpp peer of the benchmarks: node-llama-cpp (+ its prebuilt CPU binary) installed into
// .cache/bench/llama-peer. Not a project dependency: a native runtime the product does not ship; the benchmarks
// only measure against it (bench/complete.mjs --llama) or check that llama.cpp reads our GGUF export
// (bench/gguf_check.mjs).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
export const LLAMA_PEER_DIR = path.join(ROOT, '.cache', 'bench', 'llama-peer');
const NODE_LLAMA_CPP_VERSION = '3.22.1';

/** Installs the peer once; returns its folder (pass it as LLAMA_PEER_DIR to the scripts that import it). */
export function ensureLlamaPeer() {
  if (!fs.existsSync(path.join(LLAMA_PEER_DIR, 'node_modules', 'node-llama-cpp'))) {
    fs.mkdirSync(LLAMA_PEER_DIR, { recursive: true });
    fs.writeFileSync(path.join(LLAMA_PEER_DIR, 'package.json'), '{"name": "llama-peer", "private": true}\n');
    // --omit=optional skips the CUDA/Vulkan binaries (hundreds of MB); the CPU one is named explicitly.
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--omit=optional', `node-llama-cpp@${NODE_LLAMA_CPP_VERSION}`, `@node-llama-cpp/linux-x64@${NODE_LLAMA_CPP_VERSION}`], { cwd: LLAMA_PEER_DIR, stdio: 'inherit' });
  }
  return LLAMA_PEER_DIR;
}
