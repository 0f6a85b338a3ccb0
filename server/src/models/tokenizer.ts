/**
 * Loads a Hugging Face model directory's tokenizer (tokenizer.json + tokenizer_config.json) with
 * @huggingface/tokenizers, the maintained pure-JS tokenizer of transformers.js. Text segments are encoded without
 * adding special tokens: the prompt builder places special tokens itself, by id.
 *
 * Plain text must never turn into a control token: a repository that contains the string "<|fim_middle|>" (this
 * one does) would otherwise teach the model, and prompt it, with a real FIM marker in the middle of user code.
 * @huggingface/tokenizers ignores Python's `split_special_tokens`, so plain text is encoded by a second tokenizer
 * built from the same tokenizer.json with its added tokens removed. That is exactly what Python `tokenizers` does
 * with `encode_special_tokens = True`: the whole text goes through normalizer, pre-tokenizer and model, and a
 * special-token string becomes ordinary sub-word tokens (test/unit/tokenizer.test.ts checks the two agree).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';

export interface CodeTokenizer {
  /** Token ids of plain text (special-token strings inside it are NOT treated as special). */
  encode(text: string): number[];
  decode(ids: readonly number[]): string;
  /** Id of a token string in the vocabulary (including added/special tokens), if present. */
  tokenId(token: string): number | undefined;
  readonly vocabSize: number;
  /** Path of the tokenizer.json this came from. */
  readonly source: string;
}

export class TokenizerLoadError extends Error {}

interface AddedTokenJson {
  readonly id: number;
  readonly content: string;
}

export function loadTokenizer(modelDir: string): CodeTokenizer {
  const jsonPath = path.join(modelDir, 'tokenizer.json');
  const configPath = path.join(modelDir, 'tokenizer_config.json');
  if (!fs.existsSync(jsonPath)) {
    throw new TokenizerLoadError(`No tokenizer.json in ${modelDir}: RepoTune needs a fast (tokenizers) tokenizer file.`);
  }
  let tokenizerJson: any;
  let config: any = {};
  try {
    tokenizerJson = JSON.parse(fs.readFileSync(jsonPath, 'utf8'));
    if (fs.existsSync(configPath)) config = JSON.parse(fs.readFileSync(configPath, 'utf8'));
  } catch (err) {
    throw new TokenizerLoadError(`Corrupt tokenizer files in ${modelDir}: ${(err as Error).message}`);
  }
  if (typeof tokenizerJson?.model !== 'object' || tokenizerJson.model === null) {
    throw new TokenizerLoadError(`tokenizer.json in ${modelDir} has no "model" section; is it a tokenizers file?`);
  }
  const addedTokens: AddedTokenJson[] = Array.isArray(tokenizerJson.added_tokens) ? tokenizerJson.added_tokens : [];
  let full: Tokenizer;
  let plain: Tokenizer;
  try {
    full = new Tokenizer(tokenizerJson, config);
    // The config's additional_special_tokens only affect decoding; the plain tokenizer never decodes.
    plain = new Tokenizer({ ...tokenizerJson, added_tokens: [] }, { ...config, additional_special_tokens: [] });
  } catch (err) {
    throw new TokenizerLoadError(`Unsupported tokenizer in ${modelDir}: ${(err as Error).message}`);
  }

  const vocab = new Map<string, number>(Object.entries(tokenizerJson.model.vocab ?? {}) as [string, number][]);
  for (const added of addedTokens) vocab.set(added.content, added.id);
  let maxId = 0;
  for (const id of vocab.values()) maxId = Math.max(maxId, id);
  const addedIds = new Set(addedTokens.map((t) => t.id));

  const encodePlain = (text: string): number[] => plain.encode(text, { add_special_tokens: false }).ids;
  return {
    source: jsonPath,
    vocabSize: maxId + 1,
    encode: (text: string) => (text.length === 0 ? [] : withoutAddedIds(encodePlain(text), addedIds, full, encodePlain)),
    decode: (ids: readonly number[]) => (ids.length === 0 ? '' : full.decode([...ids], { skip_special_tokens: false })),
    tokenId: (token: string) => vocab.get(token),
  };
}

/**
 * Some vocabularies also list added tokens in the base model (SentencePiece-derived ones, e.g. CodeLlama's "▁<PRE>"),
 * so BPE merges could still reach one. Such a token is re-encoded one character at a time, which no merge can
 * turn back into a multi-character control token.
 */
function withoutAddedIds(ids: number[], addedIds: ReadonlySet<number>, full: Tokenizer, encodePlain: (t: string) => number[]): number[] {
  if (!ids.some((id) => addedIds.has(id))) return ids;
  const out: number[] = [];
  for (const id of ids) {
    if (!addedIds.has(id)) {
      out.push(id);
      continue;
    }
    const text = full.decode([id], { skip_special_tokens: false });
    for (const ch of text) out.push(...encodePlain(ch).filter((x) => !addedIds.has(x)));
  }
  return out;
}
