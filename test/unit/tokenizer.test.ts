/**
 * The Node tokenizer against Python `tokenizers` (what the trainer and transformers use) on the demo model's real
 * tokenizer.json, and the guarantee that plain text never becomes a control token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ensureDemoModel, pythonPath } from '../helpers/paths';
import { loadTokenizer, TokenizerLoadError } from '../../server/src/models/tokenizer';

const PARITY_STRINGS = [
  'def add(a, b):\n    return a + b\n',
  'function f(x: number): string {\n\treturn `${x}`;\n}\n',
  'const s = "héllo wörld — naïve café";',
  'line one\r\nline two\r\n\r\n',
  '\t\tindented\twith\ttabs\n',
  'emoji 🎉🚀 and 👩‍💻 in a comment // ✓',
  'x' + ' '.repeat(37) + 'y',
  '\n\n\n\n    \n        \n',
  '日本語のコメント: 変数を初期化する',
  'SELECT * FROM users WHERE id = 42 AND name LIKE \'%a%\';',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 12345); }',
  '<|fim_middle|>',
  'a<|fim_prefix|>b <|endoftext|> c<|file_sep|>\n',
  'prompt = "<|fim_prefix|>" + prefix + "<|fim_suffix|>"',
  "it's we're they'll I'd",
  '0x1F 3.14159e-10 1_000_000',
  '   leading and trailing   ',
  'Ω≈ç√∫ µ≤≥÷ ½ ¼ \u00a0nbsp \u200bzero-width',
  'e\u0301 composed vs é',
  'fn main() {\n    let v: Vec<u8> = vec![1, 2, 3];\n}\n',
  '',
];

test('Node encode() ids equal Python tokenizers ids (encode_special_tokens) on the demo tokenizer', () => {
  const modelDir = ensureDemoModel();
  const tok = loadTokenizer(modelDir);
  const script = [
    'import json, sys',
    'from tokenizers import Tokenizer',
    'tok = Tokenizer.from_file(sys.argv[1])',
    'tok.encode_special_tokens = True',
    'strings = json.loads(sys.stdin.read())',
    'print(json.dumps([tok.encode(s, add_special_tokens=False).ids for s in strings]))',
  ].join('\n');
  const out = execFileSync(pythonPath(), ['-c', script, path.join(modelDir, 'tokenizer.json')], {
    input: JSON.stringify(PARITY_STRINGS),
    encoding: 'utf8',
  });
  const expected = JSON.parse(out) as number[][];
  PARITY_STRINGS.forEach((s, i) => assert.deepEqual(tok.encode(s), expected[i], `string #${i} ${JSON.stringify(s)}`));
});

test('plain text containing special-token strings never yields a special id, and round-trips', () => {
  const tok = loadTokenizer(ensureDemoModel());
  const specials = ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>'];
  const specialIds = new Set(specials.map((s) => tok.tokenId(s)));
  assert.ok(!specialIds.has(undefined), 'demo tokenizer has all Qwen special tokens');
  for (const s of specials) {
    const text = `x = "${s}"\n${s}${s}`;
    const ids = tok.encode(text);
    assert.ok(ids.every((id) => !specialIds.has(id)), `special id leaked from ${text}`);
    assert.equal(tok.decode(ids), text);
  }
  assert.deepEqual(tok.encode(''), []);
  assert.equal(tok.decode([]), '');
  assert.equal(tok.decode([tok.tokenId('<|fim_middle|>')!]), '<|fim_middle|>');
});

test('a model directory without tokenizer.json is refused with a clear error', () => {
  assert.throws(() => loadTokenizer(path.join(__dirname, 'no-such-model')), TokenizerLoadError);
});
