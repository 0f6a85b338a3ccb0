/**
 * Which weights a fine-tune exports for evaluation and serving (FineTuneParams.quantization: the setting
 * repotune.serving.quantization, or `repotune fine-tune --quantize`). The evaluation gate scores that same export,
 * and the base model's arm is exported alike (modelStore.ensureBaseOnnxLike), so a quantized adapter is judged as
 * it will be served.
 */
import { countParameters } from '../models/modelParameters';
import { TrainerError } from '../training/trainerProcess';
import { isServingQuantization, SERVING_QUANTIZATIONS, type ExportQuantization, type ServingQuantization } from '../protocol';

/**
 * "auto" serves int4 from this many parameters on. Measured on the 0.5B shape (bench/complete.mjs, one thread):
 * int4 decodes 2.7–2.9× faster than fp32 and its export is a quarter of the size; a model below this size is fast
 * in fp32 already, and loses the most from 4-bit weights (the random-weight demo model's greedy agreement with fp32
 * drops to 0.58).
 */
export const AUTO_INT4_MIN_PARAMETERS = 100_000_000;

export function parseServingQuantization(value: unknown): ServingQuantization {
  if (value === undefined || value === null || value === '') return 'auto';
  if (isServingQuantization(value)) return value;
  throw new TrainerError(`Serving quantization must be one of ${SERVING_QUANTIZATIONS.join(', ')} (got ${JSON.stringify(value)}).`, 'bad_request');
}

/** The export's weight quantization for a setting and a model directory (null = fp32). */
export function resolveServingQuantization(setting: ServingQuantization | undefined, modelDir: string): { quantize: ExportQuantization; reason: string } {
  switch (setting ?? 'auto') {
    case 'none':
      return { quantize: null, reason: 'fp32 weights (quantization "none")' };
    case 'int8':
    case 'int4':
      return { quantize: setting as 'int8' | 'int4', reason: `${setting} weights (quantization "${setting}")` };
    default: {
      let parameters: number;
      try {
        parameters = countParameters(modelDir);
      } catch (err) {
        return { quantize: null, reason: `fp32 weights: the parameter count could not be read (${(err as Error).message})` };
      }
      const millions = `${(parameters / 1e6).toFixed(parameters < 1e7 ? 1 : 0)}M parameters`;
      return parameters >= AUTO_INT4_MIN_PARAMETERS
        ? { quantize: 'int4', reason: `int4 weights: the model has ${millions} (quantization "auto")` }
        : { quantize: null, reason: `fp32 weights: the model has only ${millions} (quantization "auto")` };
    }
  }
}
