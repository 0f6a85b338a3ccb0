/**
 * Grammar node types per language, as data: which nodes hold statements, which are blocks, function-like,
 * argument lists, comments and documentable definitions. Names are those of the grammars in
 * @vscode/tree-sitter-wasm (tree-sitter-python 0.25, -javascript 0.25, -typescript 0.23, -go 0.25, -rust 0.24,
 * -java 0.23); test/unit/syntax.test.ts checks spans of each kind are found in real code of every language.
 */
import type { SyntaxLanguage } from './grammars';

export interface LanguageNodeTypes {
  /** Nodes whose named children are statements. */
  readonly statementContainers: ReadonlySet<string>;
  /** Children of a container that are NOT statements (comments, trailing expressions). */
  readonly nonStatements: ReadonlySet<string>;
  /** When set, only children whose type matches are statements (Rust: a block's tail expression is its value). */
  readonly statementPattern?: RegExp;
  /** Block nodes; braced blocks are spanned by their interior, Python's by the node itself. */
  readonly blocks: ReadonlySet<string>;
  /** Function-like nodes whose `body` field is a function body. */
  readonly functions: ReadonlySet<string>;
  /** Argument lists (spanned by their interior, between the parentheses). */
  readonly argumentLists: ReadonlySet<string>;
  readonly comments: ReadonlySet<string>;
  /** Class-like definitions whose `body` is a docstring → body target. */
  readonly classes: ReadonlySet<string>;
  /** Nodes that wrap a definition and carry its leading comment (e.g. `export function …`, decorators). */
  readonly wrappers: ReadonlySet<string>;
}

const set = (...names: string[]): ReadonlySet<string> => new Set(names);

const JS_LIKE: LanguageNodeTypes = {
  statementContainers: set('program', 'statement_block'),
  nonStatements: set('comment', 'hash_bang_line'),
  blocks: set('statement_block'),
  functions: set('function_declaration', 'function_expression', 'function', 'arrow_function', 'method_definition', 'generator_function_declaration', 'generator_function'),
  argumentLists: set('arguments'),
  comments: set('comment'),
  classes: set('class_declaration', 'class', 'abstract_class_declaration'),
  wrappers: set('export_statement'),
};

export const NODE_TYPES: Readonly<Record<SyntaxLanguage, LanguageNodeTypes>> = {
  python: {
    statementContainers: set('module', 'block'),
    nonStatements: set('comment'),
    blocks: set('block'),
    functions: set('function_definition'),
    argumentLists: set('argument_list'),
    comments: set('comment'),
    classes: set('class_definition'),
    wrappers: set('decorated_definition'),
  },
  javascript: JS_LIKE,
  typescript: JS_LIKE,
  tsx: JS_LIKE,
  go: {
    statementContainers: set('source_file', 'statement_list'),
    nonStatements: set('comment', 'package_clause'),
    blocks: set('block'),
    functions: set('function_declaration', 'method_declaration', 'func_literal'),
    argumentLists: set('argument_list'),
    comments: set('comment'),
    classes: set(),
    wrappers: set(),
  },
  rust: {
    statementContainers: set('source_file', 'block', 'declaration_list'),
    nonStatements: set('line_comment', 'block_comment'),
    statementPattern: /^(expression_statement|let_declaration|empty_statement|[a-z_]+_item)$/,
    blocks: set('block'),
    functions: set('function_item', 'closure_expression'),
    argumentLists: set('arguments'),
    comments: set('line_comment', 'block_comment'),
    classes: set('impl_item', 'trait_item'),
    wrappers: set(),
  },
  java: {
    statementContainers: set('program', 'block', 'class_body'),
    nonStatements: set('line_comment', 'block_comment'),
    blocks: set('block'),
    functions: set('method_declaration', 'constructor_declaration', 'lambda_expression'),
    argumentLists: set('argument_list'),
    comments: set('line_comment', 'block_comment'),
    classes: set('class_declaration', 'interface_declaration', 'enum_declaration'),
    wrappers: set(),
  },
};
