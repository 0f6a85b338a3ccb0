/**
 * Syntax units of a parsed file, as character ranges of its text (web-tree-sitter indexes JavaScript strings by
 * UTF-16 code unit, like String.slice):
 * - FIM spans: whole statements, blocks, function bodies and argument lists. Braced blocks and argument lists are
 *   spanned by their interior (between the delimiters): that is what a user asks for after typing `{` or `(`.
 * - docstring/comment → body targets: a documented function or class whose body is the thing to write, given its
 *   signature and documentation. "Generate model code" prompts exactly like this.
 * Nodes containing parse errors are skipped: a span must be a unit the grammar accepts.
 */
import type { Node, Tree } from 'web-tree-sitter';
import type { ParsedFile } from './grammars';
import { NODE_TYPES, type LanguageNodeTypes } from './nodeTypes';

export type SyntaxSpanKind = 'statement' | 'syntax-block' | 'function-body' | 'arguments';
export const SYNTAX_SPAN_KINDS: readonly SyntaxSpanKind[] = ['statement', 'syntax-block', 'function-body', 'arguments'];

export interface SyntaxSpan {
  readonly kind: SyntaxSpanKind;
  /** Grammar type of the node the span comes from. */
  readonly nodeType: string;
  readonly start: number;
  readonly end: number;
}

export type DocTargetKind = 'doc-function' | 'doc-class';

export interface DocBodyTarget {
  readonly kind: DocTargetKind;
  readonly nodeType: string;
  /** Where the middle (the body to write) starts and ends; everything before is the prompt's prefix. */
  readonly start: number;
  readonly end: number;
}

/** Only a comment directly above (at most one line break between) documents the definition below it. */
const DIRECTLY_ABOVE = /^[ \t]*\r?\n?[ \t]*$/;

/** Every node of the tree, depth first, in document order. */
function* walk(tree: Tree): Generator<Node> {
  const cursor = tree.walk();
  try {
    for (;;) {
      yield cursor.currentNode;
      if (cursor.gotoFirstChild()) continue;
      while (!cursor.gotoNextSibling()) if (!cursor.gotoParent()) return;
    }
  } finally {
    cursor.delete();
  }
}

/** The range between a node's opening and closing delimiter, or undefined when it is not delimited by them. */
function interior(node: Node, open: string, close: string): { start: number; end: number } | undefined {
  const first = node.firstChild;
  const last = node.lastChild;
  if (!first || !last || first.type !== open || last.type !== close || last.isMissing) return undefined;
  return { start: first.endIndex, end: last.startIndex };
}

function isBodyOf(node: Node, types: LanguageNodeTypes): boolean {
  const parent = node.parent;
  return parent !== null && types.functions.has(parent.type) && parent.childForFieldName('body')?.id === node.id;
}

function isStatement(node: Node, types: LanguageNodeTypes): boolean {
  const parent = node.parent;
  if (!parent || !types.statementContainers.has(parent.type) || types.nonStatements.has(node.type)) return false;
  return types.statementPattern ? types.statementPattern.test(node.type) : true;
}

export function syntaxSpans(parsed: ParsedFile, text: string): SyntaxSpan[] {
  const types = NODE_TYPES[parsed.lang];
  const spans: SyntaxSpan[] = [];
  const add = (kind: SyntaxSpanKind, nodeType: string, range: { start: number; end: number } | undefined) => {
    if (range && range.end > range.start && text.slice(range.start, range.end).trim() !== '') spans.push({ kind, nodeType, ...range });
  };
  for (const node of walk(parsed.tree)) {
    if (!node.isNamed || node.hasError) continue;
    if (isStatement(node, types)) add('statement', node.type, { start: node.startIndex, end: node.endIndex });
    if (types.blocks.has(node.type)) {
      const range = interior(node, '{', '}') ?? { start: node.startIndex, end: node.endIndex };
      add(isBodyOf(node, types) ? 'function-body' : 'syntax-block', node.type, range);
    }
    if (types.argumentLists.has(node.type)) add('arguments', node.type, interior(node, '(', ')'));
  }
  return spans;
}

/** The comment node documenting a definition, if one sits directly above it (or above its wrapper). */
function leadingComment(node: Node, types: LanguageNodeTypes, text: string): Node | undefined {
  let anchor = node;
  while (anchor.parent && types.wrappers.has(anchor.parent.type)) anchor = anchor.parent;
  const prev = anchor.previousSibling;
  if (!prev || !types.comments.has(prev.type)) return undefined;
  return DIRECTLY_ABOVE.test(text.slice(prev.endIndex, anchor.startIndex)) ? prev : undefined;
}

/** A Python body's leading string statement (its docstring). */
function pythonDocstring(body: Node): Node | undefined {
  const first = body.namedChild(0);
  return first?.type === 'expression_statement' && first.namedChildCount === 1 && first.namedChild(0)?.type === 'string' ? first : undefined;
}

/** Named functions and classes that have a docstring or a comment directly above, with their body ranges. */
export function docBodyTargets(parsed: ParsedFile, text: string): DocBodyTarget[] {
  const types = NODE_TYPES[parsed.lang];
  const targets: DocBodyTarget[] = [];
  for (const node of walk(parsed.tree)) {
    const isClass = types.classes.has(node.type);
    // Named definitions only (a Rust impl is named by its `type`); anonymous functions have no documentation.
    const named = node.childForFieldName('name') ?? node.childForFieldName('type');
    if (!(isClass || types.functions.has(node.type)) || node.hasError || !named) continue;
    const body = node.childForFieldName('body');
    if (!body) continue;
    let range: { start: number; end: number } | undefined;
    if (parsed.lang === 'python') {
      const doc = pythonDocstring(body);
      if (doc) range = { start: doc.endIndex, end: body.endIndex };
      else if (leadingComment(node, types, text)) range = { start: body.startIndex, end: body.endIndex };
    } else if (leadingComment(node, types, text)) {
      range = interior(body, '{', '}');
    }
    if (range && text.slice(range.start, range.end).trim() !== '') {
      targets.push({ kind: isClass ? 'doc-class' : 'doc-function', nodeType: node.type, ...range });
    }
  }
  return targets;
}
