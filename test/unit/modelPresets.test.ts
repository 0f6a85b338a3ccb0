/** "Choose model": the presets shown, the progress text, and where hub downloads go (huggingface_hub's rules). */
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import { MODEL_PRESETS, downloadProgressText, presetDescription } from '../../src/modelPresets';
import { hubCacheDir } from '../../server/src/models/hubDownload';

test('presets: the issue\'s six base models, each with a VRAM estimate that grows with size', () => {
  assert.deepEqual(MODEL_PRESETS.map((p) => p.repoId), [
    'Qwen/Qwen2.5-Coder-0.5B', 'Qwen/Qwen2.5-Coder-1.5B', 'Qwen/Qwen2.5-Coder-3B', 'Qwen/Qwen2.5-Coder-7B',
    'deepseek-ai/deepseek-coder-1.3b-base', 'bigcode/starcoder2-3b',
  ]);
  const qwen = MODEL_PRESETS.filter((p) => p.repoId.startsWith('Qwen/'));
  for (let i = 1; i < qwen.length; i++) assert.ok(qwen[i].trainVramGb > qwen[i - 1].trainVramGb);
  assert.equal(presetDescription(MODEL_PRESETS[0]), '~4 GB VRAM for LoRA training · 1.0 GB download');
  assert.equal(downloadProgressText('model.safetensors', 12_500_000, 40_000_000), 'model.safetensors 12.5/40.0 MB');
  assert.equal(downloadProgressText('config.json', 700, 0), 'config.json 0.0 MB');
});

test('hub cache: HF_HUB_CACHE, then HF_HOME/hub, then XDG cache, then ~/.cache', () => {
  assert.equal(hubCacheDir({ HF_HUB_CACHE: '/c', HF_HOME: '/h' }), '/c');
  assert.equal(hubCacheDir({ HF_HOME: '/h' }), path.join('/h', 'hub'));
  assert.equal(hubCacheDir({ XDG_CACHE_HOME: '/x' }), path.join('/x', 'huggingface', 'hub'));
  assert.equal(hubCacheDir({}), path.join(os.homedir(), '.cache', 'huggingface', 'hub'));
});
