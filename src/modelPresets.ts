/**
 * The models "RepoTune: Choose model" offers. VRAM figures are rough needs of a LoRA fine-tune as RepoTune runs it
 * (bf16 base weights + activations at 512 tokens × batch 4 + LoRA optimizer state); 4-bit quantisation roughly halves
 * the weights' share. Pure (no 'vscode'): unit-tested, and the e2e test picks a preset by its label.
 */

export interface ModelPreset {
  label: string;
  repoId: string;
  /** Approximate GPU memory for LoRA training, in GB. */
  trainVramGb: number;
  /** Size of the safetensors weights, in GB (what the download costs). */
  downloadGb: number;
}

export const MODEL_PRESETS: readonly ModelPreset[] = [
  { label: 'Qwen2.5-Coder 0.5B (base)', repoId: 'Qwen/Qwen2.5-Coder-0.5B', trainVramGb: 4, downloadGb: 1.0 },
  { label: 'Qwen2.5-Coder 1.5B (base)', repoId: 'Qwen/Qwen2.5-Coder-1.5B', trainVramGb: 8, downloadGb: 3.1 },
  { label: 'Qwen2.5-Coder 3B (base)', repoId: 'Qwen/Qwen2.5-Coder-3B', trainVramGb: 12, downloadGb: 6.2 },
  { label: 'Qwen2.5-Coder 7B (base)', repoId: 'Qwen/Qwen2.5-Coder-7B', trainVramGb: 24, downloadGb: 15.2 },
  { label: 'DeepSeek-Coder 1.3B (base)', repoId: 'deepseek-ai/deepseek-coder-1.3b-base', trainVramGb: 7, downloadGb: 2.7 },
  { label: 'StarCoder2 3B', repoId: 'bigcode/starcoder2-3b', trainVramGb: 12, downloadGb: 12.1 },
];

export function presetDescription(p: ModelPreset): string {
  return `~${p.trainVramGb} GB VRAM for LoRA training · ${p.downloadGb.toFixed(1)} GB download`;
}

/** "model.safetensors 12.5/40.0 MB" for the progress notification. */
export function downloadProgressText(file: string, bytes: number, totalBytes: number): string {
  const mb = (n: number) => (n / 1e6).toFixed(1);
  return totalBytes > 0 ? `${file} ${mb(bytes)}/${mb(totalBytes)} MB` : `${file} ${mb(bytes)} MB`;
}
