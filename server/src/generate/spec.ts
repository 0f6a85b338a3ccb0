/**
 * The model spec a user describes ("Generate model code"): task, inputs with shapes/dtypes, outputs, loss, framework.
 * Parsed from the short form's fields, from a selected comment/docstring, or from CLI flags, always through
 * `parseSpec`, so every entry point refuses the same bad input with the same actionable message.
 */

export const FRAMEWORKS = ['torch', 'tensorflow', 'jax'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/** Losses the smoke test knows how to feed (targets of the right dtype/shape); canonical names. */
export const LOSSES = ['cross_entropy', 'nll', 'mse', 'l1', 'huber', 'bce_with_logits'] as const;
export type LossName = (typeof LOSSES)[number];

export const DTYPES = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'bool'] as const;
export type DType = (typeof DTYPES)[number];

/** A dimension is a number, or a symbol ("B", "batch") that the smoke test replaces by a small size. */
export type Dim = number | string;

export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly Dim[];
}

export interface ModelSpec {
  readonly task: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  readonly loss: LossName;
  readonly framework: Framework;
}

/** What the form and the CLI fields hold before parsing. */
export interface SpecFields {
  task?: string;
  inputs?: string;
  outputs?: string;
  loss?: string;
  framework?: string;
}

/** Example values the form pre-fills (also the documentation of the syntax). */
export const SPEC_EXAMPLES = {
  inputs: 'x: float32[B, 16]',
  outputs: 'logits: float32[B, 4]',
  loss: 'cross_entropy',
} as const;

export class SpecError extends Error {}

const LOSS_ALIASES: Record<string, LossName> = {
  crossentropy: 'cross_entropy', crossentropyloss: 'cross_entropy', ce: 'cross_entropy', categoricalcrossentropy: 'cross_entropy',
  sparsecategoricalcrossentropy: 'cross_entropy', nll: 'nll', nllloss: 'nll', negativeloglikelihood: 'nll',
  mse: 'mse', mseloss: 'mse', meansquarederror: 'mse', l2: 'mse', l1: 'l1', l1loss: 'l1', mae: 'l1', meanabsoluteerror: 'l1',
  huber: 'huber', huberloss: 'huber', smoothl1: 'huber', smoothl1loss: 'huber',
  bce: 'bce_with_logits', bcewithlogits: 'bce_with_logits', bcewithlogitsloss: 'bce_with_logits', binarycrossentropy: 'bce_with_logits',
};

const FRAMEWORK_ALIASES: Record<string, Framework> = {
  torch: 'torch', pytorch: 'torch', tensorflow: 'tensorflow', tf: 'tensorflow', keras: 'tensorflow', jax: 'jax', flax: 'jax',
};

/** The table's own entry: a user's "valueOf" or "constructor" must not find Object.prototype's members. */
function ownValue<T>(table: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

export function parseLoss(text: string): LossName {
  const loss = ownValue(LOSS_ALIASES, text.toLowerCase().replace(/[^a-z0-9]/g, ''));
  if (!loss) throw new SpecError(`Unknown loss "${text}". Use one of: ${LOSSES.join(', ')}.`);
  return loss;
}

export function parseFramework(text: string): Framework {
  const fw = ownValue(FRAMEWORK_ALIASES, text.trim().toLowerCase());
  if (!fw) throw new SpecError(`Unknown framework "${text}". Use one of: ${FRAMEWORKS.join(', ')}.`);
  return fw;
}

/** One tensor: `name: dtype[d0, d1, …]` (dtype optional, float32; parentheses work as brackets). */
const TENSOR_RE = /^([A-Za-z_]\w*)\s*:\s*([A-Za-z]\w*)?\s*[[(]([^\])]*)[\])]$/;

/** "x: float32[B, 3, 32, 32]; mask: bool[B, 32]" (separated by ';', newlines, or commas between tensors). */
export function parseTensors(text: string, what: 'inputs' | 'outputs'): TensorSpec[] {
  // Split at separators that are outside brackets, so the commas inside a shape stay.
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of text) {
    if (ch === '[' || ch === '(') depth++;
    if (ch === ']' || ch === ')') depth = Math.max(0, depth - 1);
    if (depth === 0 && (ch === ';' || ch === '\n' || ch === ',')) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  const tensors = parts.map((p) => p.trim()).filter((p) => p.length > 0).map((p) => parseTensor(p, what));
  if (tensors.length === 0) throw new SpecError(`No ${what} given. Write them like "${SPEC_EXAMPLES[what]}".`);
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new SpecError(`${what}: the name "${t.name}" is used twice.`);
    names.add(t.name);
  }
  return tensors;
}

function parseTensor(text: string, what: string): TensorSpec {
  const m = TENSOR_RE.exec(text);
  if (!m) throw new SpecError(`${what}: cannot read "${text}". Write each tensor like "${SPEC_EXAMPLES.inputs}".`);
  const dtype = (m[2] ?? 'float32').toLowerCase();
  if (!(DTYPES as readonly string[]).includes(dtype)) {
    throw new SpecError(`${what}: unknown dtype "${m[2]}" in "${text}". Use one of: ${DTYPES.join(', ')}.`);
  }
  const shape = m[3].split(',').map((d) => d.trim()).filter((d) => d.length > 0).map((d): Dim => {
    if (/^\d+$/.test(d) && Number(d) > 0) return Number(d);
    if (/^[A-Za-z_]\w*$/.test(d)) return d;
    throw new SpecError(`${what}: dimension "${d}" in "${text}" must be a positive integer or a name like B.`);
  });
  if (shape.length === 0) throw new SpecError(`${what}: "${text}" has no dimensions.`);
  return { name: m[1], dtype: dtype as DType, shape };
}

/** Fields → spec; `defaults` fill what the user left empty (e.g. the framework the repository already uses). */
export function parseSpec(fields: SpecFields, defaults: { framework?: Framework } = {}): ModelSpec {
  const task = (fields.task ?? '').trim().replace(/\s+/g, ' ');
  if (!task) throw new SpecError('Describe the task (for example "classify 32x32 RGB images into 10 classes").');
  return {
    task,
    inputs: parseTensors(fields.inputs ?? '', 'inputs'),
    outputs: parseTensors(fields.outputs ?? '', 'outputs'),
    loss: parseLoss(fields.loss?.trim() || 'cross_entropy'),
    framework: fields.framework?.trim() ? parseFramework(fields.framework) : (defaults.framework ?? 'torch'),
  };
}

export function formatTensors(tensors: readonly TensorSpec[]): string {
  return tensors.map((t) => `${t.name}: ${t.dtype}[${t.shape.join(', ')}]`).join('; ');
}

const FIELD_RE = /^(task|inputs?|outputs?|loss|framework)\s*:\s*(.*)$/i;
const FIELD_KEYS: Record<string, keyof SpecFields> = {
  task: 'task', input: 'inputs', inputs: 'inputs', output: 'outputs', outputs: 'outputs', loss: 'loss', framework: 'framework',
};

/**
 * A selected comment or docstring → fields. Lines "Task: …", "Inputs: …", "Outputs: …", "Loss: …", "Framework: …"
 * are read as fields (continuation lines belong to the field above); free text without a field becomes the task.
 */
export function fieldsFromComment(selection: string): SpecFields {
  const lines = stripCommentMarkers(selection);
  const fields: SpecFields = {};
  const free: string[] = [];
  let last: keyof SpecFields | undefined;
  for (const line of lines) {
    const m = FIELD_RE.exec(line);
    if (m) {
      last = FIELD_KEYS[m[1].toLowerCase()];
      fields[last] = m[2].trim();
    } else if (line.trim() === '') last = undefined;
    else if (last) fields[last] = `${fields[last]}\n${line.trim()}`;
    else free.push(line.trim());
  }
  if (!fields.task && free.length > 0) fields.task = free.join(' ');
  return fields;
}

function stripCommentMarkers(text: string): string[] {
  const body = text.trim().replace(/^("""|''')/, '').replace(/("""|''')$/, '').replace(/^\/\*+/, '').replace(/\*+\/$/, '');
  return body.split('\n').map((l) => l.replace(/^\s*(#+|\/\/+|\*(?!\*))\s?/, '').replace(/\s+$/, ''));
}
