/** "Generate model code", the pure parts: spec parsing (form, comment), repository style scan, skeleton, trust gate. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fieldsFromComment, parseSpec, SpecError, SPEC_EXAMPLES } from '../../server/src/generate/spec';
import { findModelClasses, inferFramework } from '../../server/src/generate/repoStyle';
import { buildSkeleton, classNameFor, concreteShapes, prefixWithRetryNote } from '../../server/src/generate/skeleton';
import { generateGate, smokeTestAllowed, UNTRUSTED_MESSAGE } from '../../server/src/generate/guard';
import { cutAtClassEnd } from '../../server/src/generate/generator';
import type { ScannedFile } from '../../server/src/generate/repoStyle';

const py = (path: string, text: string): ScannedFile => ({ path, text, language: 'python' });

test('the form fields parse into a spec; defaults fill the framework', () => {
  const spec = parseSpec(
    { task: ' classify  images ', inputs: 'x: float32[B, 3, 32, 32]; mask: bool(B, 32)', outputs: 'logits: [B, 10]', loss: 'CrossEntropyLoss' },
    { framework: 'jax' },
  );
  assert.equal(spec.task, 'classify images');
  assert.deepEqual(spec.inputs, [
    { name: 'x', dtype: 'float32', shape: ['B', 3, 32, 32] },
    { name: 'mask', dtype: 'bool', shape: ['B', 32] },
  ]);
  assert.deepEqual(spec.outputs, [{ name: 'logits', dtype: 'float32', shape: ['B', 10] }]);
  assert.equal(spec.loss, 'cross_entropy');
  assert.equal(spec.framework, 'jax');
  assert.equal(parseSpec({ task: 't', inputs: SPEC_EXAMPLES.inputs, outputs: SPEC_EXAMPLES.outputs, framework: 'PyTorch' }).framework, 'torch');
});

test('bad fields are refused with a message that says what to write', () => {
  const base = { task: 'x', inputs: SPEC_EXAMPLES.inputs, outputs: SPEC_EXAMPLES.outputs };
  assert.throws(() => parseSpec({ ...base, task: '  ' }), /Describe the task/);
  assert.throws(() => parseSpec({ ...base, inputs: 'x float32' }), (e: Error) => e instanceof SpecError && /x: float32\[B, 16\]/.test(e.message));
  assert.throws(() => parseSpec({ ...base, inputs: 'x: complex7[2]' }), /unknown dtype "complex7"/);
  assert.throws(() => parseSpec({ ...base, inputs: 'x: [0, 2]' }), /dimension "0"/);
  assert.throws(() => parseSpec({ ...base, inputs: 'x: [2]; x: [3]' }), /used twice/);
  assert.throws(() => parseSpec({ ...base, loss: 'wasserstein' }), /Unknown loss "wasserstein".*cross_entropy/);
  assert.throws(() => parseSpec({ ...base, framework: 'caffe' }), /Unknown framework "caffe"/);
  // Names of Object.prototype's members are not table entries.
  for (const word of ['constructor', 'valueOf', 'toString', '__proto__']) {
    assert.throws(() => parseSpec({ ...base, loss: word }), /Unknown loss/, word);
    assert.throws(() => parseSpec({ ...base, framework: word }), /Unknown framework/, word);
    assert.throws(() => parseSpec({ ...base, inputs: `x: ${word}[2]` }), /unknown dtype|cannot read/, word);
  }
});

test('a selected docstring or comment becomes the fields', () => {
  const doc = '"""Predict the next token of a sequence.\n\nInputs: ids: int64[B, T]\nOutputs: logits: float32[B, T, 64]\nLoss: cross entropy\n"""';
  assert.deepEqual(fieldsFromComment(doc), { task: 'Predict the next token of a sequence.', inputs: 'ids: int64[B, T]', outputs: 'logits: float32[B, T, 64]', loss: 'cross entropy' });
  const comment = '# Task: regress house prices\n# Input: x: float32[B, 8];\n#   y: float32[B, 2]\n# framework: torch';
  const fields = fieldsFromComment(comment);
  assert.equal(fields.task, 'regress house prices');
  assert.equal(parseSpec({ ...fields, outputs: 'price: [B, 1]', loss: 'mse' }).inputs.length, 2);
  assert.deepEqual(fieldsFromComment('// a tiny autoencoder for MNIST'), { task: 'a tiny autoencoder for MNIST' });
});

test('the repository scan finds the framework in use and its model classes', () => {
  const files = [
    py('models/small.py', 'import torch\nfrom torch import nn\n\n\nclass Tiny(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.fc = nn.Linear(2, 2)\n\n    def forward(self, x):\n        return self.fc(x)\n\n\ndef helper():\n    return 1\n'),
    py('models/big.py', `import torch.nn as nn\nimport torch\n\nclass Big(torch.nn.Module):\n${'    x = 1\n'.repeat(400)}`),
    py('train.py', 'import torch\n\nclass Config:\n    lr = 1\n'),
    py('tf_thing.py', 'import tensorflow as tf\n'),
    { path: 'README.md', text: 'import jax', language: 'markdown' },
  ];
  assert.equal(inferFramework(files), 'torch');
  assert.equal(inferFramework([files[3]]), 'tensorflow');
  assert.equal(inferFramework([files[4]]), undefined);
  const found = findModelClasses(files, 'torch');
  assert.deepEqual(found.map((f) => f.className), ['Tiny', 'Big'], 'model classes only (not Config), shortest first');
  assert.ok(found[0].text.endsWith('return self.fc(x)'), `class block ends before the next top-level def: ${JSON.stringify(found[0].text)}`);
  assert.ok(found[1].text.length < 1600 && found[1].text.endsWith('...'), 'a long class is cut');
});

test('skeleton: spec docstring, class header, loss function; symbolic dims get distinct sizes', () => {
  const spec = parseSpec({ task: 'classify images into classes', inputs: 'x: [B, 3, H, H]', outputs: 'logits: [B, 10]', loss: 'nll' });
  assert.equal(classNameFor(spec.task), 'ClassifyImagesClassesModel');
  assert.equal(classNameFor('tiny convnet'), 'TinyConvnetModel');
  const s = buildSkeleton(spec);
  assert.match(s.prefix, /class ClassifyImagesClassesModel\(nn\.Module\):\n    """classify images into classes\n/);
  assert.match(s.prefix, /x: float32\[B, 3, H, H\]/);
  assert.ok(s.prefix.endsWith('super().__init__()\n'));
  assert.match(s.suffix, /def loss_fn\(outputs, targets\):\n    return F\.nll_loss/);
  assert.deepEqual(concreteShapes(spec), { inputs: [[2, 3, 3, 3]], outputs: [[2, 10]] });
  assert.equal(prefixWithRetryNote('P', undefined, 1), 'P');
  assert.match(prefixWithRetryNote('P', 'SyntaxError: bad (line 3)', 2), /^# Attempt 2: .*\n# SyntaxError: bad \(line 3\)\n.*\nP$/);
});

test('generation stops where the class ends (a line in column 0 after the body began)', () => {
  assert.deepEqual(cutAtClassEnd('        self.a = 1\n\n    def forward(self, x):\n        return x\n'), { text: '        self.a = 1\n\n    def forward(self, x):\n        return x\n', ended: false });
  assert.deepEqual(cutAtClassEnd('        self.a = 1\n\ndef other():\n'), { text: '        self.a = 1\n', ended: true });
  assert.deepEqual(cutAtClassEnd('garbage\nmore'), { text: 'garbage\nmore', ended: false }, 'not a body: kept for the parse check');
  assert.deepEqual(cutAtClassEnd('x)\n        y\nz'), { text: 'x)\n        y', ended: true });
});

test('untrusted workspace: refused; smoke test only with trust and an explicit yes', () => {
  assert.deepEqual(generateGate({ trusted: false, hasLocalFolder: true }), { allowed: false, message: UNTRUSTED_MESSAGE });
  assert.equal(generateGate({ trusted: true, hasLocalFolder: false }).allowed, false);
  assert.deepEqual(generateGate({ trusted: true, hasLocalFolder: true }), { allowed: true });
  assert.equal(smokeTestAllowed({ trusted: true, userConfirmed: true }), true);
  assert.equal(smokeTestAllowed({ trusted: false, userConfirmed: true }), false);
  assert.equal(smokeTestAllowed({ trusted: true, userConfirmed: undefined }), false);
  assert.equal(smokeTestAllowed({ trusted: true, userConfirmed: false }), false);
});
