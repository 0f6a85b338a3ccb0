/**
 * Spec → the code around the hole the model fills: imports, the class with the spec as its docstring and the start
 * of its constructor (prefix), and the loss function after the class (suffix). The model writes the middle: the
 * layers and forward pass. This is a plain fill-in-the-middle completion, which base and adapted code models are
 * good at, instead of an instruction a base model was never trained to follow.
 *
 * All three frameworks are Python, so the target language is Python; the smoke test exists for torch only.
 */
import { formatTensors, type Dim, type LossName, type ModelSpec, type TensorSpec } from './spec';

/** Sizes given to symbolic dimensions in the smoke test, in order of first appearance: distinct primes, so a model
 * that mixes up two dimensions fails the shape check instead of passing by accident. */
export const SYMBOLIC_DIM_SIZES = [2, 3, 5, 7, 11, 13] as const;
/** Integer inputs (token ids, class ids) are drawn from [0, this): small enough for any embedding table. */
export const INT_INPUT_HIGH = 8;
/** The file the generated code is written to in the smoke-test folder (and imported from). */
export const MODULE_NAME = 'model_code';

export interface Skeleton {
  readonly className: string;
  /** Suggested file name for the generated code. */
  readonly fileName: string;
  /** Code before the hole; ends at the start of a line inside the constructor. */
  readonly prefix: string;
  /** Code after the hole: the loss function. */
  readonly suffix: string;
  /** Indentation of the hole's lines; a generated line with less ends the class. */
  readonly bodyIndent: string;
}

const STOP_WORDS = new Set(['a', 'an', 'the', 'of', 'for', 'to', 'into', 'in', 'on', 'with', 'and', 'or', 'from', 'that', 'which', 'by', 'x']);
const NAME_SUFFIXES = /(Model|Net|Network|Classifier|Regressor|Encoder|Decoder|Transformer)$/;

export function classNameFor(task: string): string {
  const words = task.split(/[^A-Za-z0-9]+/).filter((w) => w && !STOP_WORDS.has(w.toLowerCase()) && !/^\d/.test(w)).slice(0, 3);
  const base = words.map((w) => w[0].toUpperCase() + w.slice(1).toLowerCase()).join('') || 'Generated';
  return NAME_SUFFIXES.test(base) ? base : `${base}Model`;
}

function snakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

function docstring(spec: ModelSpec, indent: string): string {
  const tensorLines = (ts: readonly TensorSpec[]) => ts.map((t) => `${indent}    ${formatTensors([t])}`).join('\n');
  return [
    `${indent}"""${spec.task}`,
    '',
    `${indent}Inputs:`,
    tensorLines(spec.inputs),
    `${indent}Outputs:`,
    tensorLines(spec.outputs),
    `${indent}Loss: ${spec.loss} (loss_fn below, on the first output)`,
    `${indent}"""`,
  ].join('\n');
}

const TORCH_LOSS: Record<LossName, string> = {
  cross_entropy: 'F.cross_entropy(outputs, targets)', nll: 'F.nll_loss(outputs, targets)', mse: 'F.mse_loss(outputs, targets)',
  l1: 'F.l1_loss(outputs, targets)', huber: 'F.huber_loss(outputs, targets)', bce_with_logits: 'F.binary_cross_entropy_with_logits(outputs, targets)',
};
const KERAS_LOSS: Record<LossName, string> = {
  cross_entropy: 'keras.losses.SparseCategoricalCrossentropy(from_logits=True)(targets, outputs)',
  nll: 'keras.losses.SparseCategoricalCrossentropy(from_logits=False)(targets, outputs)',
  mse: 'keras.losses.MeanSquaredError()(targets, outputs)', l1: 'keras.losses.MeanAbsoluteError()(targets, outputs)',
  huber: 'keras.losses.Huber()(targets, outputs)', bce_with_logits: 'keras.losses.BinaryCrossentropy(from_logits=True)(targets, outputs)',
};
const JAX_LOSS: Record<LossName, string> = {
  cross_entropy: '-jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(outputs), targets[..., None], axis=-1))',
  nll: '-jnp.mean(jnp.take_along_axis(outputs, targets[..., None], axis=-1))',
  mse: 'jnp.mean((outputs - targets) ** 2)', l1: 'jnp.mean(jnp.abs(outputs - targets))',
  huber: 'jnp.mean(jnp.where(jnp.abs(outputs - targets) < 1.0, 0.5 * (outputs - targets) ** 2, jnp.abs(outputs - targets) - 0.5))',
  bce_with_logits: 'jnp.mean(jnp.maximum(outputs, 0) - outputs * targets + jnp.log1p(jnp.exp(-jnp.abs(outputs))))',
};

export function buildSkeleton(spec: ModelSpec): Skeleton {
  const className = classNameFor(spec.task);
  const fileName = `${snakeCase(className)}.py`;
  const lossFn = (body: string) => `\n\ndef loss_fn(outputs, targets):\n    return ${body}\n`;
  switch (spec.framework) {
    case 'torch':
      return {
        className, fileName, bodyIndent: '        ',
        prefix: `import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\nclass ${className}(nn.Module):\n${docstring(spec, '    ')}\n\n    def __init__(self):\n        super().__init__()\n`,
        suffix: lossFn(TORCH_LOSS[spec.loss]),
      };
    case 'tensorflow':
      return {
        className, fileName, bodyIndent: '        ',
        prefix: `import tensorflow as tf\nfrom tensorflow import keras\n\n\nclass ${className}(keras.Model):\n${docstring(spec, '    ')}\n\n    def __init__(self):\n        super().__init__()\n`,
        suffix: lossFn(KERAS_LOSS[spec.loss]),
      };
    case 'jax':
      return {
        className, fileName, bodyIndent: '    ',
        prefix: `import jax\nimport jax.numpy as jnp\nimport flax.linen as nn\n\n\nclass ${className}(nn.Module):\n${docstring(spec, '    ')}\n\n    @nn.compact\n    def __call__(self, ${spec.inputs.map((t) => t.name).join(', ')}):\n`,
        suffix: lossFn(JAX_LOSS[spec.loss]),
      };
  }
}

/** The prefix as the model sees it on a retry: the previous attempt's error as a comment at the top of the file. */
export function prefixWithRetryNote(prefix: string, previousError: string | undefined, attempt: number): string {
  if (!previousError) return prefix;
  const lines = previousError.trim().split('\n').slice(-6).map((l) => `# ${l}`);
  return `# Attempt ${attempt}: the previous version of this file failed its check with:\n${lines.join('\n')}\n# This version fixes that error.\n${prefix}`;
}

/** Concrete sizes for a shape: symbols get SYMBOLIC_DIM_SIZES in order of first appearance across the spec. */
export function concreteShapes(spec: ModelSpec): { inputs: number[][]; outputs: number[][] } {
  const sizes = new Map<string, number>();
  const size = (d: Dim): number => {
    if (typeof d === 'number') return d;
    if (!sizes.has(d)) sizes.set(d, SYMBOLIC_DIM_SIZES[sizes.size % SYMBOLIC_DIM_SIZES.length]);
    return sizes.get(d)!;
  };
  return { inputs: spec.inputs.map((t) => t.shape.map(size)), outputs: spec.outputs.map((t) => t.shape.map(size)) };
}

const TORCH_DTYPE: Record<string, string> = {
  float32: 'torch.float32', float64: 'torch.float64', float16: 'torch.float16', bfloat16: 'torch.bfloat16', int64: 'torch.int64', int32: 'torch.int32', bool: 'torch.bool',
};

/** A torch smoke test: construct, forward on random inputs of the declared shapes, check output shapes, loss, backward. */
export function torchSmokeTest(spec: ModelSpec, className: string): string {
  const shapes = concreteShapes(spec);
  const tuple = (s: number[]) => `(${s.join(', ')}${s.length === 1 ? ',' : ''})`;
  const inputs = spec.inputs.map((t, i) => {
    const s = tuple(shapes.inputs[i]);
    if (t.dtype === 'bool') return `torch.rand(${s}) > 0.5`;
    if (t.dtype.startsWith('int')) return `torch.randint(0, ${INT_INPUT_HIGH}, ${s}, dtype=${TORCH_DTYPE[t.dtype]})`;
    return `torch.randn(${s}, dtype=${TORCH_DTYPE[t.dtype]})`;
  });
  const targets =
    spec.loss === 'cross_entropy' || spec.loss === 'nll'
      ? 'torch.randint(0, first.shape[1], first.shape[:1] + first.shape[2:])'
      : spec.loss === 'bce_with_logits' ? 'torch.rand_like(first)' : 'torch.randn_like(first)';
  return `import torch

torch.manual_seed(0)
torch.set_num_threads(1)
from ${MODULE_NAME} import ${className}, loss_fn

model = ${className}()
inputs = [${inputs.join(', ')}]
result = model(*inputs)
outputs = result if isinstance(result, (tuple, list)) else (result,)
expected = [${shapes.outputs.map(tuple).join(', ')}]
assert len(outputs) == len(expected), f"forward returned {len(outputs)} outputs, the spec declares {len(expected)}"
for name, out, shape in zip(${JSON.stringify(spec.outputs.map((t) => t.name))}, outputs, expected):
    assert tuple(out.shape) == shape, f"output {name}: shape {tuple(out.shape)}, the spec declares {shape}"
first = outputs[0]
targets = ${targets}
loss = loss_fn(first, targets)
assert loss.dim() == 0, f"loss_fn returned shape {tuple(loss.shape)}, not a scalar"
assert torch.isfinite(loss), f"loss is {loss.item()}"
loss.backward()
print(f"smoke test passed: outputs {[tuple(o.shape) for o in outputs]}, loss {loss.item():.4f}")
`;
}
