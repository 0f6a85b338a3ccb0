/**
 * Tree-sitter parsers for the languages RepoTune draws syntax-aware examples from: web-tree-sitter (the official
 * WASM build of tree-sitter, no native code) with the grammar .wasm files of @vscode/tree-sitter-wasm (built by the
 * VS Code team with the same tree-sitter CLI as the runtime, so their ABI matches; test/unit/syntax.test.ts loads
 * every grammar to prove it).
 *
 * The .wasm files are found next to the bundle (dist/tree-sitter/, copied by esbuild.mjs; what the VSIX ships) or,
 * when running from the repository (tests, dev), in node_modules. Other languages fall back to line spans.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as WebTreeSitter from 'web-tree-sitter';
import type { Language, Tree } from 'web-tree-sitter';

// require() rather than import: bundlers resolve an import to web-tree-sitter's ESM build, which finds its files
// through import.meta.url — undefined in the CommonJS bundles RepoTune ships. The CJS build has no such lookup.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { Parser, Language: LanguageLoader } = require('web-tree-sitter') as typeof WebTreeSitter;

/** Folder beside the bundles that holds the runtime and grammar .wasm files (see esbuild.mjs). */
export const GRAMMAR_DIR_NAME = 'tree-sitter';
export const RUNTIME_WASM = 'tree-sitter.wasm';
/** Files this large are generated or data; parsing them costs more than their spans are worth. */
export const MAX_PARSE_CHARS = 512 * 1024;

export type SyntaxLanguage = 'python' | 'javascript' | 'typescript' | 'tsx' | 'go' | 'rust' | 'java';

/** Grammar file (tree-sitter-<name>.wasm) per language. */
export const GRAMMAR_FILES: Readonly<Record<SyntaxLanguage, string>> = {
  python: 'tree-sitter-python.wasm',
  javascript: 'tree-sitter-javascript.wasm',
  typescript: 'tree-sitter-typescript.wasm',
  tsx: 'tree-sitter-tsx.wasm',
  go: 'tree-sitter-go.wasm',
  rust: 'tree-sitter-rust.wasm',
  java: 'tree-sitter-java.wasm',
};

const LANGUAGE_BY_EXTENSION: Readonly<Record<string, SyntaxLanguage>> = {
  '.py': 'python', '.pyi': 'python',
  '.js': 'javascript', '.jsx': 'javascript', '.mjs': 'javascript', '.cjs': 'javascript',
  '.ts': 'typescript', '.mts': 'typescript', '.cts': 'typescript',
  '.tsx': 'tsx',
  '.go': 'go',
  '.rs': 'rust',
  '.java': 'java',
};

export class GrammarLoadError extends Error {}

/** The syntax language of a repository path, or undefined when RepoTune has no grammar for it (line spans then). */
export function syntaxLanguageOf(filePath: string): SyntaxLanguage | undefined {
  return LANGUAGE_BY_EXTENSION[path.extname(filePath).toLowerCase()];
}

/**
 * Folders that may hold a .wasm file, most specific first: beside the bundle, then the npm package that provides
 * it (the runtime must come from web-tree-sitter itself: another build of tree-sitter.wasm does not link).
 */
function candidateDirs(file: string): string[] {
  const dirs = [path.join(__dirname, GRAMMAR_DIR_NAME), path.join(__dirname, '..', GRAMMAR_DIR_NAME)];
  const [pkgFile, sub] = file === RUNTIME_WASM ? ['web-tree-sitter/tree-sitter.wasm', ''] : ['@vscode/tree-sitter-wasm/package.json', 'wasm'];
  try {
    dirs.push(path.join(path.dirname(require.resolve(pkgFile)), sub));
  } catch {
    // Not installed (the packaged extension): dist/tree-sitter has the files.
  }
  return dirs;
}

export function locateWasm(file: string): string {
  const dirs = candidateDirs(file);
  for (const dir of dirs) {
    const p = path.join(dir, file);
    if (fs.existsSync(p)) return p;
  }
  throw new GrammarLoadError(`${file} not found (looked in ${dirs.join(', ')}); rebuild with "node esbuild.mjs" or reinstall RepoTune.`);
}

let runtime: Promise<void> | undefined;
const languages = new Map<SyntaxLanguage, Promise<Language>>();

function initRuntime(): Promise<void> {
  runtime ??= Parser.init({ locateFile: () => locateWasm(RUNTIME_WASM) }).catch((err: unknown) => {
    runtime = undefined;
    throw new GrammarLoadError(`tree-sitter runtime failed to load: ${(err as Error).message ?? err}`);
  });
  return runtime;
}

/** The loaded grammar of a language (loaded once per process). */
export async function loadLanguage(lang: SyntaxLanguage): Promise<Language> {
  await initRuntime();
  let loaded = languages.get(lang);
  if (!loaded) {
    loaded = LanguageLoader.load(locateWasm(GRAMMAR_FILES[lang])).catch((err: unknown) => {
      languages.delete(lang);
      throw new GrammarLoadError(`grammar ${GRAMMAR_FILES[lang]} failed to load: ${(err as Error).message ?? err}`);
    });
    languages.set(lang, loaded);
  }
  return loaded;
}

export interface ParsedFile {
  readonly lang: SyntaxLanguage;
  readonly tree: Tree;
}

/**
 * Parses a file with the grammar of its extension; undefined when there is no grammar or the file is too large.
 * Trees with syntax errors are returned: span collection skips the nodes that contain errors. The caller must
 * `tree.delete()` (WASM memory is not garbage-collected).
 */
export async function parseFile(filePath: string, text: string): Promise<ParsedFile | undefined> {
  const lang = syntaxLanguageOf(filePath);
  if (lang === undefined || text.length > MAX_PARSE_CHARS) return undefined;
  const tree = await parseText(lang, text);
  return tree ? { lang, tree } : undefined;
}

/** Parses text in a language (null only when tree-sitter gives up). The caller must `tree.delete()`. */
export async function parseText(lang: SyntaxLanguage, text: string): Promise<Tree | null> {
  const language = await loadLanguage(lang); // initialises the runtime, which `new Parser()` needs
  const parser = new Parser();
  try {
    parser.setLanguage(language);
    return parser.parse(text);
  } finally {
    parser.delete();
  }
}
