/**
 * Cost of syntax-aware spans and cross-file context in the examples stage, against line spans alone measured in the
 * same run, on one repository (default: this one), plus the serving-side retrieval latency per request.
 *   node bench/examples.mjs [repo] [modelDir]
 */
import * as path from 'node:path';
import { harvest } from '../server/src/harvest/harvest';
import { loadTokenizer } from '../server/src/models/tokenizer';
import { detectFamily } from '../server/src/examples/families';
import { buildExampleSets } from '../server/src/examples/shards';
import { LINE_ONLY_SPAN_RATES } from '../server/src/examples/plan';
import { buildRetrievalIndex, contextSnippets } from '../server/src/retrieval/repoIndex';
import { RETRIEVAL_BUDGET_MS } from '../server/src/completion/service';

const SEQ_LEN = 256;
const QUERIES = 500;

async function main(): Promise<void> {
  const [repo, modelDir] = process.argv.slice(2);
  const files = (await harvest(repo, {})).files;
  const tok = loadTokenizer(modelDir);
  const family = detectFamily(tok, path.basename(modelDir));
  const variants = {
    'line spans only (baseline)': { spanRates: LINE_ONLY_SPAN_RATES, docRate: 0, contextRate: 0 },
    'syntax spans + docstrings': { contextRate: 0 },
    'syntax + docstrings + context 0.5': {},
  };
  await buildExampleSets(files, tok, family, { seed: 0, seqLen: SEQ_LEN, ...variants['line spans only (baseline)'] }); // warm-up (grammar load, JIT)
  let baseline = 0;
  for (const [name, opts] of Object.entries(variants)) {
    const start = performance.now();
    const sets = await buildExampleSets(files, tok, family, { seed: 0, seqLen: SEQ_LEN, ...opts });
    const ms = performance.now() - start;
    baseline ||= ms;
    console.log(`${name.padEnd(36)} ${ms.toFixed(0).padStart(6)} ms  ×${(ms / baseline).toFixed(2)}  (${sets.train.length} train examples)`);
  }
  const train = files.filter((f) => f.split === 'train');
  const indexStart = performance.now();
  const index = buildRetrievalIndex(train);
  const indexMs = performance.now() - indexStart;
  const times: number[] = [];
  for (let i = 0; i < QUERIES; i++) {
    const f = train[i % train.length];
    const cut = Math.floor(((i * 7919) % 1000) / 1000 * f.text.length);
    const t0 = performance.now();
    contextSnippets(index, { path: f.path, prefix: f.text.slice(0, cut) }, 3, RETRIEVAL_BUDGET_MS);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const pct = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))].toFixed(2);
  console.log(`retrieval index: ${index.chunks.length} chunks of ${train.length} files in ${indexMs.toFixed(0)} ms`);
  console.log(`retrieval per request (serving budget ${RETRIEVAL_BUDGET_MS} ms): p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${pct(1)} ms`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
