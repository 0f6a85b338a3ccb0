// Does llama.cpp run what "Export adapter → GGUF" writes? The demo model + a random LoRA adapter is exported as GGUF
// (f32 and Q8_0) by the product's export (bench/gguf_check.py), loaded in llama.cpp through node-llama-cpp
// (bench/llamaPeer.mjs; not a project dependency), and its greedy tokens are compared with PEFT's (base + adapter in
// torch). The f32 file must give the same tokens; Q8_0 is reported (rounding moves a random model's near ties).
// Also printed: the FIM token ids llama.cpp read from the file (its /infill endpoint uses them).
//   node bench/gguf_check.mjs           (exit code 1 when the f32 tokens differ)
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureLlamaPeer } from './llamaPeer.mjs';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const OUT = path.join(ROOT, '.cache', 'bench', 'gguf-check');
const PYTHON = process.env.REPOTUNE_PYTHON ?? path.join(ROOT, '.venv', 'bin', 'python');
/** Context of each comparison: a prompt of 8 tokens and 16 new ones. */
const CONTEXT_TOKENS = 64;

const peer = ensureLlamaPeer();
fs.mkdirSync(OUT, { recursive: true });
execFileSync(PYTHON, [path.join(ROOT, 'bench', 'gguf_check.py'), OUT], { stdio: ['ignore', 'inherit', 'inherit'] });
const reference = JSON.parse(fs.readFileSync(path.join(OUT, 'reference.json'), 'utf8'));
const { getLlama } = await import(pathToFileURL(path.join(peer, 'node_modules', 'node-llama-cpp', 'dist', 'index.js')).href);
const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
let f32Mismatches = 0;
for (const type of ['f32', 'q8_0']) {
  const model = await llama.loadModel({ modelPath: path.join(OUT, type, 'model.gguf') });
  try {
    const { prefix, suffix, middle } = model.tokens.infill;
    console.log(`[${type}] llama.cpp loaded ${path.join(OUT, type, 'model.gguf')}; FIM ids prefix ${prefix} suffix ${suffix} middle ${middle}`);
    for (const [i, prompt] of reference.prompts.entries()) {
      const context = await model.createContext({ contextSize: CONTEXT_TOKENS, threads: 1 });
      try {
        const got = [];
        for await (const token of context.getSequence().evaluate(prompt, { temperature: 0 })) {
          got.push(token);
          if (got.length >= reference.peft[i].length) break;
        }
        const same = got.filter((t, j) => t === reference.peft[i][j]).length;
        if (type === 'f32' && same !== reference.peft[i].length) f32Mismatches++;
        console.log(`  prompt ${i}: ${same}/${reference.peft[i].length} greedy tokens equal to PEFT's${same === got.length ? '' : ` (llama.cpp ${JSON.stringify(got)}, PEFT ${JSON.stringify(reference.peft[i])})`}`);
      } finally {
        await context.dispose();
      }
    }
  } finally {
    await model.dispose();
  }
}
console.log(f32Mismatches === 0 ? 'f32 GGUF: llama.cpp generates exactly what PEFT does.' : `f32 GGUF: ${f32Mismatches} prompt(s) differ.`);
process.exit(f32Mismatches === 0 ? 0 : 1);
