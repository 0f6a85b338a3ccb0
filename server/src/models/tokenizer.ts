/**
 * Loads a Hugging Face model directory's tokenizer (tokenizer.json + tokenizer_config.json) with
 * @huggingface/tokenizers, the maintained pure-JS tokenizer of transformers.js. Text segments are encoded without
 * adding special tokens: the prompt builder places special tokens itself, by id.
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
  const tok = new Tokenizer(tokenizerJson, config);
  const vocab = new Map<string, number>(Object.entries(tokenizerJson.model?.vocab ?? {}) as [string, number][]);
  for (const added of tokenizerJson.added_tokens ?? []) vocab.set(added.content, added.id);
  let maxId = 0;
  for (const id of vocab.values()) maxId = Math.max(maxId, id);
  return {
    source: jsonPath,
    vocabSize: maxId + 1,
    // split_special_tokens: user text that happens to contain "<|fim_middle|>" must not become a control token.
    encode: (text: string) => (text.length === 0 ? [] : tok.encode(text, { add_special_tokens: false, split_special_tokens: true } as any).ids),
    decode: (ids: readonly number[]) => tok.decode([...ids], { skip_special_tokens: false }),
    tokenId: (token: string) => vocab.get(token),
  };
}
