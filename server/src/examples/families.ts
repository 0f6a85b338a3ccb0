/**
 * Model families and their fill-in-the-middle conventions, as data. The family of a model is chosen from the
 * special tokens its tokenizer actually has, so a model without FIM tokens is refused with its name in the error.
 */
import type { CodeTokenizer } from '../models/tokenizer';

export interface ModelFamily {
  readonly id: string;
  readonly fimPrefix: string;
  readonly fimSuffix: string;
  readonly fimMiddle: string;
  /** PSM: prefix, suffix, middle. SPM: suffix, prefix, middle (prompt order). */
  readonly order: 'psm' | 'spm';
  /** Token that ends a middle in training and stops generation in serving. */
  readonly endOfMiddle: string;
  /** Further tokens that stop generation. */
  readonly stopTokens: readonly string[];
  /** Separates files in repository-level context, when the family has one. */
  readonly fileSeparator?: string;
  readonly repoName?: string;
}

export const FAMILIES: readonly ModelFamily[] = [
  {
    id: 'qwen2.5-coder',
    fimPrefix: '<|fim_prefix|>', fimSuffix: '<|fim_suffix|>', fimMiddle: '<|fim_middle|>', order: 'psm',
    endOfMiddle: '<|endoftext|>', stopTokens: ['<|endoftext|>', '<|fim_pad|>', '<|file_sep|>', '<|repo_name|>', '<|im_end|>'],
    fileSeparator: '<|file_sep|>', repoName: '<|repo_name|>',
  },
  {
    id: 'deepseek-coder',
    fimPrefix: '<｜fim▁begin｜>', fimSuffix: '<｜fim▁hole｜>', fimMiddle: '<｜fim▁end｜>', order: 'psm',
    endOfMiddle: '<|EOT|>', stopTokens: ['<|EOT|>', '<｜end▁of▁sentence｜>'],
  },
  {
    id: 'starcoder2',
    fimPrefix: '<fim_prefix>', fimSuffix: '<fim_suffix>', fimMiddle: '<fim_middle>', order: 'psm',
    endOfMiddle: '<|endoftext|>', stopTokens: ['<|endoftext|>', '<file_sep>', '<fim_pad>'],
    fileSeparator: '<file_sep>', repoName: '<repo_name>',
  },
  {
    id: 'codellama',
    fimPrefix: '▁<PRE>', fimSuffix: '▁<SUF>', fimMiddle: '▁<MID>', order: 'psm',
    endOfMiddle: '▁<EOT>', stopTokens: ['▁<EOT>', '</s>'],
  },
];

export class NoFimTokensError extends Error {}

/** The first family whose FIM and end tokens all exist in the tokenizer's vocabulary. */
export function detectFamily(tok: CodeTokenizer, modelName: string): ModelFamily {
  for (const family of FAMILIES) {
    const needed = [family.fimPrefix, family.fimSuffix, family.fimMiddle, family.endOfMiddle];
    if (needed.every((t) => tok.tokenId(t) !== undefined)) return family;
  }
  throw new NoFimTokensError(
    `Model "${modelName}" has no fill-in-the-middle tokens RepoTune knows (${FAMILIES.map((f) => f.id).join(', ')}). ` +
      'Choose a code model with FIM support (for example Qwen2.5-Coder base).',
  );
}
