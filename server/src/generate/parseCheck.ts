/**
 * Does the generated code parse? Python's own parser (`ast.parse`, which executes nothing), run with the trainer's
 * interpreter: the same Python the smoke test would use, so "parses" means "parses for that version".
 * (No tree-sitter module exists in the sidecar yet; when one does, it can answer without a process.)
 */
import { spawn } from 'node:child_process';

/** Starting Python and parsing a few hundred lines takes well under a second; this is for a wedged interpreter. */
export const PARSE_TIMEOUT_MS = 20_000;

/** Reads the code from stdin; prints one JSON line: {"ok": true} or the SyntaxError's message and position. */
const PARSE_SCRIPT = [
  'import ast, json, sys',
  'src = sys.stdin.read()',
  'try:',
  '    ast.parse(src, "generated.py")',
  '    print(json.dumps({"ok": True}))',
  'except SyntaxError as e:',
  '    print(json.dumps({"ok": False, "type": type(e).__name__, "msg": e.msg, "line": e.lineno, "col": e.offset, "text": (e.text or "").rstrip()}))',
].join('\n');

export interface ParseResult {
  readonly ok: boolean;
  /** One line a user (and the model, on a retry) can act on: "SyntaxError: invalid syntax (line 14): `x = = 1`". */
  readonly error?: string;
  readonly line?: number;
}

export async function checkPythonSyntax(python: string, code: string, timeoutMs = PARSE_TIMEOUT_MS): Promise<ParseResult> {
  const { stdout, stderr, code: exit } = await runWithInput(python, ['-I', '-B', '-c', PARSE_SCRIPT], code, timeoutMs);
  const last = stdout.trim().split('\n').at(-1) ?? '';
  let parsed: { ok: boolean; type?: string; msg?: string; line?: number; text?: string };
  try {
    parsed = JSON.parse(last);
  } catch {
    throw new Error(`The Python parse check did not answer (${python}, exit ${exit}): ${stderr.trim().split('\n').slice(-3).join(' ') || 'no output'}`);
  }
  if (parsed.ok) return { ok: true };
  const where = parsed.line ? ` (line ${parsed.line})` : '';
  const text = parsed.text?.trim() ? `: \`${parsed.text.trim().slice(0, 120)}\`` : '';
  return { ok: false, error: `${parsed.type ?? 'SyntaxError'}: ${parsed.msg ?? 'invalid syntax'}${where}${text}`, line: parsed.line };
}

function runWithInput(cmd: string, args: string[], input: string, timeoutMs: number): Promise<{ stdout: string; stderr: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`Cannot start Python for the parse check (${cmd}): ${err.message}. Set repotune.pythonPath.`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.on('error', () => undefined); // the process may exit before reading everything; 'close' reports it
    child.stdin.end(input);
  });
}
