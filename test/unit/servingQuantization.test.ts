/**
 * Serving quantization: the parameter count read from safetensors headers (against PyTorch's count of the demo
 * model), and what each setting resolves to.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { countParameters, ModelParametersError } from '../../server/src/models/modelParameters';
import { AUTO_INT4_MIN_PARAMETERS, parseServingQuantization, resolveServingQuantization } from '../../server/src/pipeline/servingQuantization';
import { servingQuantizationFlag, UsageError } from '../../server/src/cliCommands/flags';
import { TrainerError } from '../../server/src/training/trainerProcess';
import { ensureDemoModel, pythonPath, tempDir, TRAINER_DIR } from '../helpers/paths';

/** A safetensors file with these tensor shapes in its header and no data: only the header is ever read. */
function writeHeaderOnly(file: string, shapes: Record<string, number[]>): void {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  for (const [name, shape] of Object.entries(shapes)) header[name] = { dtype: 'BF16', shape, data_offsets: [0, 0] };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(file, Buffer.concat([length, json]));
}

test("the demo model's parameter count is PyTorch's", () => {
  const modelDir = ensureDemoModel();
  const script = 'import sys, torch\nfrom transformers import AutoModelForCausalLM\nm = AutoModelForCausalLM.from_pretrained(sys.argv[1])\nprint(sum(p.numel() for p in m.parameters()))  # tied weights once, as stored';
  const torchCount = Number(execFileSync(pythonPath(), ['-c', script, modelDir], { cwd: TRAINER_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop());
  assert.equal(countParameters(modelDir), torchCount);
});

test('shards add up, metadata is not a tensor, and a broken header says which file', () => {
  const dir = tempDir('params');
  writeHeaderOnly(path.join(dir, 'model-00001-of-00002.safetensors'), { 'a.weight': [1000, 200], 'a.bias': [200] });
  writeHeaderOnly(path.join(dir, 'model-00002-of-00002.safetensors'), { 'b.weight': [3, 4, 5] });
  assert.equal(countParameters(dir), 1000 * 200 + 200 + 60);
  fs.writeFileSync(path.join(dir, 'broken.safetensors'), Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]));
  assert.throws(() => countParameters(dir), (e: Error) => e instanceof ModelParametersError && e.message.includes('broken.safetensors'));
  assert.throws(() => countParameters(tempDir('params-none')), /no \.safetensors weights/);
});

test('auto quantizes to int4 from 100M parameters on, fp32 below; explicit settings win', () => {
  const big = tempDir('params-big');
  writeHeaderOnly(path.join(big, 'model.safetensors'), { embed: [AUTO_INT4_MIN_PARAMETERS / 1000, 1000] });
  const small = tempDir('params-small');
  writeHeaderOnly(path.join(small, 'model.safetensors'), { embed: [AUTO_INT4_MIN_PARAMETERS / 1000 - 1, 1000] });
  assert.equal(resolveServingQuantization('auto', big).quantize, 'int4');
  assert.match(resolveServingQuantization(undefined, big).reason, /int4 weights: the model has 100M parameters/);
  assert.equal(resolveServingQuantization('auto', small).quantize, null);
  assert.equal(resolveServingQuantization('auto', ensureDemoModel()).quantize, null, 'the demo model is served in fp32');
  assert.equal(resolveServingQuantization('none', big).quantize, null);
  assert.equal(resolveServingQuantization('int8', small).quantize, 'int8');
  assert.equal(resolveServingQuantization('int4', small).quantize, 'int4');
  // Without readable weights auto falls back to fp32 and says why.
  assert.match(resolveServingQuantization('auto', tempDir('params-empty')).reason, /fp32 weights: the parameter count could not be read/);
});

test('a bad value is refused: by the pipeline (bad_request) and by the CLI flag (usage error)', () => {
  assert.equal(parseServingQuantization(undefined), 'auto');
  assert.equal(parseServingQuantization('int8'), 'int8');
  assert.throws(() => parseServingQuantization('fp16'), (e: Error) => e instanceof TrainerError && e.kind === 'bad_request' && /auto, none, int8, int4/.test(e.message));
  assert.equal(servingQuantizationFlag(undefined), undefined);
  assert.equal(servingQuantizationFlag('none'), 'none');
  assert.throws(() => servingQuantizationFlag('q4'), UsageError);
});
