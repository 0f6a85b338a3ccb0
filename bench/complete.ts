/**
 * bench/complete: serving speed of a 0.5B-shaped model on the CPU, fp32 vs int4 (MatMulNBits) exports.
 * Run through bench/complete.mjs, which builds the model and bundles this file:
 *   child args: BENCH_DIR CONTEXT_TOKENS KEYSTROKES THREADS ATTENTIONS (comma-separated export kernels) ROUNDS
 *
 * Per export:
 *   - engine: cold prefill of a CONTEXT_TOKENS prompt (tokens/s), then greedy decode of DECODE_TOKENS (tokens/s);
 *   - service: keystroke-to-text latency through CompletionService (prefilter → windows → prompt → engine with
 *     filters → postprocess → cache) while typing one character at a time at the end of a line in a file whose
 *     prompt fills the budget: cache miss (new prefix; the engine reuses the KV cache of the unchanged start) and
 *     cache hit (the same request again). The first, cold request is reported on its own.
 * With the llama.cpp peer, engine speed and the peer's alternate for ROUNDS rounds and the ratios are the median of
 * the per-round ratios (with their range): this VM's memory bandwidth drifts by ±30% between minutes, and a single
 * ours-then-theirs pass measured the two sides at different speeds of the machine.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CompletionService } from '../server/src/completion/service';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { OrtEngine, sessionOptionsFor } from '../server/src/completion/engine/ortEngine';
import { loadTokenizer } from '../server/src/models/tokenizer';
import { llamaPerStep, oursPerStep, readShape, total } from './decodeBytes';

const DECODE_TOKENS = 64;
/** The source typed into: this repository's own TypeScript, long enough to fill the 2k-token prompt. */
const SOURCE_FILES = ['server/src/completion/service.ts', 'server/src/completion/engine/ortEngine.ts', 'server/src/completion/filters.ts'];
const TYPED = 'const total = items.reduce((sum, item) => sum + item.size, 0);';
/** Characters per token of this code under the demo tokenizer is ~2.5; the windows must hold the whole budget. */
const CHARS_PER_TOKEN_BOUND = 6;

const [benchDir, contextArg, keystrokesArg, threadsArg, attentionsArg, roundsArg] = process.argv.slice(2);
const ATTENTIONS = (attentionsArg || 'buffer').split(',');
const CONTEXT_TOKENS = Number(contextArg ?? 2048);
const KEYSTROKES = Number(keystrokesArg ?? 10);
/** Alternating rounds of our engine and the llama.cpp peer (1 without the peer). */
const ROUNDS = Math.max(1, Number(roundsArg || 1));
const THREADS = threadsArg ? Number(threadsArg) : undefined;
/** The engine's thread count (its default when not given): the llama.cpp peer gets the same. */
const EFFECTIVE_THREADS = sessionOptionsFor({ intraOpNumThreads: THREADS }).intraOpNumThreads!;
/** Set by bench/complete.mjs --llama: where node-llama-cpp is installed (and GGUF files exist). */
const LLAMA_PEER_DIR = process.env.LLAMA_PEER_DIR;
const ROOT = path.resolve(__dirname, '..');
const MODEL_DIR = path.join(benchDir, 'hf');

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

interface Row {
  variant: string;
  prefillTps: number;
  decodeTps: number;
  /** Tokens per second of this process's CPU time (user + system). */
  prefillCpuTps: number;
  decodeCpuTps: number;
  coldMs: number;
  missP50: number;
  missP95: number;
  hitP50: number;
  hitP95: number;
  promptTokens: number;
  generated: number;
  /** Mean prompt tokens prefilled per cache miss (the rest came from the engine's KV cache). */
  prefilled: number;
}

type Speed = Pick<Row, 'prefillTps' | 'decodeTps' | 'prefillCpuTps' | 'decodeCpuTps'>;

async function engineSpeed(onnxDir: string, promptIds: number[]): Promise<Speed> {
  const engine = await OrtEngine.load(onnxDir, { intraOpNumThreads: THREADS });
  try {
    await engine.generate(promptIds.slice(0, 32), { maxNewTokens: 2, stopIds: [] }); // warm-up: kernels, arena
    engine.resetCache();
    // CPU time too: on a shared machine wall time also counts the time other processes held the core.
    const cpuStart = process.cpuUsage();
    let cpuAfterPrefill: NodeJS.CpuUsage | undefined;
    const r = await engine.generate(promptIds, {
      maxNewTokens: DECODE_TOKENS,
      stopIds: [],
      onToken: () => void (cpuAfterPrefill ??= process.cpuUsage()),
    });
    const cpuEnd = process.cpuUsage();
    const cpuMs = (a: NodeJS.CpuUsage, b: NodeJS.CpuUsage) => (b.user + b.system - a.user - a.system) / 1000;
    return {
      prefillTps: (r.prefilledTokens / r.prefillMs) * 1000,
      decodeTps: ((r.ids.length - 1) / r.decodeMs) * 1000,
      prefillCpuTps: (r.prefilledTokens / cpuMs(cpuStart, cpuAfterPrefill!)) * 1000,
      decodeCpuTps: ((r.ids.length - 1) / cpuMs(cpuAfterPrefill!, cpuEnd)) * 1000,
    };
  } finally {
    await engine.dispose();
  }
}

async function serviceLatency(onnxDir: string, source: string): Promise<Omit<Row, 'variant' | keyof Speed>> {
  const budget = { maxPromptTokens: CONTEXT_TOKENS, prefixShare: 0.7, suffixShare: 0.25 };
  const service = await CompletionService.create({
    modelDir: MODEL_DIR,
    onnxDir,
    promptBudget: budget,
    windowBudget: { prefixChars: CONTEXT_TOKENS * CHARS_PER_TOKEN_BOUND, suffixChars: CONTEXT_TOKENS * CHARS_PER_TOKEN_BOUND },
    engine: { intraOpNumThreads: THREADS },
    maxFileChars: source.length * 4,
  });
  try {
    const cursor = source.indexOf('\n', Math.floor(source.length * 0.75)) + 1;
    // A new line typed above an existing one: the cursor is at the end of its line, where completions trigger.
    const request = (typed: string) => ({ text: source.slice(0, cursor) + typed + '\n' + source.slice(cursor), offset: cursor + typed.length, languageId: 'typescript', path: 'src/bench.ts' });
    const timed = async (typed: string) => {
      const t0 = performance.now();
      const c = await service.complete(request(typed));
      return { ms: performance.now() - t0, fromCache: c?.fromCache ?? false };
    };
    const cold = await timed('');
    const promptTokens = service.lastStats?.promptTokens ?? 0;
    const miss: number[] = [];
    const hit: number[] = [];
    let generated = 0;
    let prefilled = 0;
    for (let i = 1; i <= KEYSTROKES; i++) {
      const typed = TYPED.slice(0, i);
      const first = await timed(typed);
      // The keystroke typed the next character of the shown completion: served by type-through, not a miss.
      if (first.fromCache) continue;
      miss.push(first.ms);
      generated += service.lastStats?.generatedTokens ?? 0;
      prefilled += service.lastStats?.prefilledTokens ?? 0;
      const again = await timed(typed);
      if (again.fromCache) hit.push(again.ms);
    }
    return {
      coldMs: cold.ms, promptTokens, generated: generated / miss.length, prefilled: prefilled / miss.length,
      missP50: percentile(miss, 50), missP95: percentile(miss, 95),
      hitP50: hit.length ? percentile(hit, 50) : NaN, hitP95: hit.length ? percentile(hit, 95) : NaN,
    };
  } finally {
    await service.dispose();
  }
}

async function main(): Promise<void> {
  const source = SOURCE_FILES.map((f) => fs.readFileSync(path.join(ROOT, f), 'utf8')).join('\n');
  const tok = loadTokenizer(MODEL_DIR);
  const promptIds = tok.encode(source).slice(0, CONTEXT_TOKENS);
  if (promptIds.length < CONTEXT_TOKENS) throw new Error(`source too short: ${promptIds.length} tokens < ${CONTEXT_TOKENS}`);
  const variants = ATTENTIONS.flatMap((a) => ['int4', 'fp32'].map((q) => [a === 'buffer' ? q : `${q}-${a}`, `${q}-${a}`]));
  const rounds = LLAMA_PEER_DIR ? ROUNDS : 1;
  const speeds = new Map<string, Speed[]>(variants.map(([v]) => [v, []]));
  const peers: PeerSpeeds[] = [];
  const latency = new Map<string, Awaited<ReturnType<typeof serviceLatency>>>();
  for (let round = 1; round <= rounds; round++) {
    for (const [variant, dir] of variants) {
      const onnxDir = path.join(benchDir, `onnx-${dir}`);
      process.stderr.write(`[${variant}] round ${round}/${rounds}: engine prefill/decode ...\n`);
      const speed = await engineSpeed(onnxDir, promptIds);
      speeds.get(variant)!.push(speed);
      process.stderr.write(`[${variant}] ${speed.prefillTps.toFixed(1)} / ${speed.decodeTps.toFixed(2)} tok/s\n`);
      if (round === 1) {
        process.stderr.write(`[${variant}] service latency ...\n`);
        latency.set(variant, await serviceLatency(onnxDir, source));
      }
    }
    if (LLAMA_PEER_DIR) peers.push(llamaPeer(promptIds));
  }
  const medianOf = (xs: number[]) => percentile(xs, 50);
  const rows: Row[] = variants.map(([variant]) => {
    const runs = speeds.get(variant)!;
    const speed = Object.fromEntries((['prefillTps', 'decodeTps', 'prefillCpuTps', 'decodeCpuTps'] as const).map((k) => [k, medianOf(runs.map((r) => r[k]))])) as Speed;
    return { variant, ...speed, ...latency.get(variant)! };
  });
  const f = (v: number, d = 0) => (Number.isFinite(v) ? v.toFixed(d) : 'n/a');
  console.log(`\nbench/complete: Qwen2.5-Coder-0.5B shape (random weights), ${CONTEXT_TOKENS}-token context, ` +
    `threads ${THREADS ?? 'engine default'}, ${KEYSTROKES} keystrokes, max ${DECODE_TOKENS} new tokens` +
    (rounds > 1 ? `, engine speeds: median of ${rounds} rounds` : ''));
  console.log('| export | prefill tok/s (per CPU s) | decode tok/s (per CPU s) | cold request ms (prompt tokens) | miss p50 / p95 ms | miss: avg prefilled / new tokens | hit p50 / p95 ms |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    console.log(`| ${r.variant} | ${f(r.prefillTps, 1)} (${f(r.prefillCpuTps, 1)}) | ${f(r.decodeTps, 2)} (${f(r.decodeCpuTps, 2)}) | ${f(r.coldMs)} (${r.promptTokens}) | ` +
      `${f(r.missP50)} / ${f(r.missP95)} | ${f(r.prefilled)} / ${f(r.generated, 1)} | ${f(r.hitP50, 2)} / ${f(r.hitP95, 2)} |`);
  }
  const [q, fp] = rows;
  console.log(`int4 / fp32: prefill ${(q.prefillTps / fp.prefillTps).toFixed(2)}x, decode ${(q.decodeTps / fp.decodeTps).toFixed(2)}x, ` +
    `miss p50 ${(fp.missP50 / q.missP50).toFixed(2)}x faster`);
  if (peers.length > 0) {
    printPeerRatios(variants.map(([v]) => v), speeds, peers);
    printStepBytes(promptIds.length + DECODE_TOKENS / 2, rows, peers);
  }
}

type PeerSpeeds = Record<'q4_0' | 'f32', { prefillTps: number; decodeTps: number }>;

/** Our speed as a ratio to llama.cpp's: per round (each side measured minutes apart at most), then the median. */
function printPeerRatios(variants: string[], speeds: Map<string, Speed[]>, peers: PeerSpeeds[]): void {
  const range = (xs: number[]) => `${percentile(xs, 50).toFixed(2)}x (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`;
  console.log(`\n| llama.cpp (node-llama-cpp), median of ${peers.length} round(s) | prefill tok/s | decode tok/s | ours / llama.cpp prefill (range) | ours / llama.cpp decode (range) |`);
  console.log('|---|---|---|---|---|');
  for (const variant of variants) {
    const name = variant.startsWith('int4') ? 'q4_0' : 'f32';
    const ours = speeds.get(variant)!;
    const theirs = peers.map((p) => p[name]);
    console.log(`| ${name} (vs our ${variant}) | ${percentile(theirs.map((p) => p.prefillTps), 50).toFixed(1)} | ${percentile(theirs.map((p) => p.decodeTps), 50).toFixed(2)} | ` +
      `${range(theirs.map((p, i) => ours[i].prefillTps / p.prefillTps))} | ${range(theirs.map((p, i) => ours[i].decodeTps / p.decodeTps))} |`);
  }
}

/**
 * What a decode step reads (bench/decodeBytes.ts) and, times the measured decode speed, at what rate: at equal
 * rates the speed ratio is the inverse ratio of the bytes.
 */
function printStepBytes(cached: number, rows: Row[], peers: PeerSpeeds[]): void {
  const shape = readShape(MODEL_DIR);
  const mb = (b: number) => (b / 1e6).toFixed(0);
  console.log(`\n| bytes per decode step at ${cached} cached positions (arithmetic, bench/decodeBytes.ts) | weights MB | KV cache MB | total MB | read at the measured decode, GB/s |`);
  console.log('|---|---|---|---|---|');
  const ratios: string[] = [];
  for (const r of rows.filter((row) => row.variant === 'int4' || row.variant === 'fp32')) {
    const int4 = r.variant === 'int4';
    const theirs = percentile(peers.map((p) => p[int4 ? 'q4_0' : 'f32'].decodeTps), 50);
    const [o, l] = [oursPerStep(shape, cached, int4), llamaPerStep(shape, cached, int4)];
    console.log(`| ours ${r.variant} | ${mb(o.weights)} | ${mb(o.kv)} | ${mb(total(o))} | ${((total(o) * r.decodeTps) / 1e9).toFixed(1)} |`);
    console.log(`| llama.cpp ${int4 ? 'q4_0' : 'f32'} | ${mb(l.weights)} | ${mb(l.kv)} | ${mb(total(l))} | ${((total(l) * theirs) / 1e9).toFixed(1)} |`);
    ratios.push(`${r.variant} ${(total(l) / total(o)).toFixed(2)}x`);
  }
  console.log(`llama.cpp's bytes / ours (the decode ratio at equal rates): ${ratios.join(', ')}`);
}

/** Runs node-llama-cpp on the same weights (GGUF) and prompt ids: its prefill and decode speed per variant. */
function llamaPeer(promptIds: number[]): PeerSpeeds {
  const idsFile = path.join(os.tmpdir(), `bench-complete-ids-${process.pid}.json`);
  fs.writeFileSync(idsFile, JSON.stringify(promptIds));
  try {
    process.stderr.write(`[llama.cpp] node-llama-cpp, ${EFFECTIVE_THREADS} thread(s) ...\n`);
    const stdout = execFileSync(process.execPath, [path.join(ROOT, 'bench', 'complete-llama.mjs'), benchDir, idsFile, String(EFFECTIVE_THREADS)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const peer = JSON.parse(stdout.trim().split('\n').pop()!) as PeerSpeeds;
    process.stderr.write(`[llama.cpp] q4_0 ${peer.q4_0.prefillTps.toFixed(1)} / ${peer.q4_0.decodeTps.toFixed(2)} tok/s, f32 ${peer.f32.prefillTps.toFixed(1)} / ${peer.f32.decodeTps.toFixed(2)} tok/s\n`);
    return peer;
  } finally {
    fs.rmSync(idsFile, { force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
