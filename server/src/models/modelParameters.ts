/**
 * The parameter count of a Hugging Face model directory, from its safetensors headers alone (a few KB per file,
 * whatever the model's size): what "auto" serving quantization decides by (pipeline/servingQuantization.ts).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A safetensors header longer than this is not one (the format caps it at 100 MB). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;
/** Bytes before the header: its length, a little-endian u64. */
const HEADER_LENGTH_BYTES = 8;

export class ModelParametersError extends Error {}

/** Sum of the element counts of every tensor in the directory's *.safetensors files (shards included). */
export function countParameters(modelDir: string): number {
  const files = fs.readdirSync(modelDir).filter((f) => f.endsWith('.safetensors'));
  if (files.length === 0) throw new ModelParametersError(`${modelDir} has no .safetensors weights.`);
  return files.reduce((sum, f) => sum + countInFile(path.join(modelDir, f)), 0);
}

function countInFile(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const lengthBytes = Buffer.alloc(HEADER_LENGTH_BYTES);
    if (fs.readSync(fd, lengthBytes, 0, HEADER_LENGTH_BYTES, 0) !== HEADER_LENGTH_BYTES) throw new ModelParametersError(`${file} is too short to be a safetensors file.`);
    const length = Number(lengthBytes.readBigUInt64LE(0));
    if (length <= 0 || length > MAX_HEADER_BYTES) throw new ModelParametersError(`${file} is not a safetensors file (header length ${length}).`);
    const header = Buffer.alloc(length);
    if (fs.readSync(fd, header, 0, length, HEADER_LENGTH_BYTES) !== length) throw new ModelParametersError(`${file} is truncated: its header is incomplete.`);
    let tensors: Record<string, { shape?: unknown }>;
    try {
      tensors = JSON.parse(header.toString('utf8'));
    } catch (err) {
      throw new ModelParametersError(`${file} has a corrupt safetensors header: ${(err as Error).message}.`);
    }
    let count = 0;
    for (const [name, tensor] of Object.entries(tensors)) {
      if (name === '__metadata__') continue;
      const shape = tensor?.shape;
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new ModelParametersError(`${file}: tensor ${name} has no valid shape.`);
      count += shape.reduce((n: number, d: number) => n * d, 1);
    }
    return count;
  } finally {
    fs.closeSync(fd);
  }
}
