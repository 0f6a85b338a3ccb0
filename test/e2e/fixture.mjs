// The workspace the e2e test opens: a small git repository with a few source files, plus the settings the run
// needs (a short fine-tune; the project's Python environment as the machine-level interpreter).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The file the test opens and types into, and what it types (a new line at the end of the file). */
export const EDIT_FILE = 'shapes.py';
export const TYPED_TEXT = 'def perimeter_of_square(side):';

const FILES = {
  'README.md': '# geometry\n\nSmall helpers for shapes, used by the RepoTune end-to-end test.\n',
  [EDIT_FILE]: [
    'import math',
    '',
    '',
    'def area_of_circle(radius):',
    '    return math.pi * radius * radius',
    '',
    '',
    'def area_of_square(side):',
    '    return side * side',
    '',
    '',
    'def area_of_rectangle(width, height):',
    '    return width * height',
    '',
    '',
  ].join('\n'),
  'units.py': [
    'CM_PER_INCH = 2.54',
    '',
    '',
    'def inches_to_cm(inches):',
    '    return inches * CM_PER_INCH',
    '',
    '',
    'def cm_to_inches(cm):',
    '    return cm / CM_PER_INCH',
    '',
  ].join('\n'),
  'main.py': [
    'from shapes import area_of_circle, area_of_square',
    'from units import cm_to_inches',
    '',
    '',
    'def main():',
    '    print(area_of_circle(2.0))',
    '    print(cm_to_inches(area_of_square(3.0)))',
    '',
    '',
    'if __name__ == "__main__":',
    '    main()',
    '',
  ].join('\n'),
};

function git(cwd, ...args) {
  execFileSync('git', ['-c', 'user.name=RepoTune e2e', '-c', 'user.email=e2e@example.invalid', ...args], {
    cwd,
    stdio: 'ignore',
  });
}

/** Creates the fixture repository in `dir` (committed, so the harvester sees tracked files). */
export function createFixtureRepo(dir, { maxSteps }) {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(FILES)) fs.writeFileSync(path.join(dir, name), text);
  // Workspace settings: a short run, and the gate off — a 12-step demo run on a one-commit fixture cannot show a
  // significant win, and the checks after it need the adapter served (the gate is tested in the LSP integration
  // test). Kept out of git so it is not training data.
  fs.mkdirSync(path.join(dir, '.vscode'), { recursive: true });
  fs.writeFileSync(
    path.join(dir, '.vscode', 'settings.json'),
    JSON.stringify({ 'repotune.training.maxSteps': maxSteps, 'repotune.evaluation.gate': false, 'workbench.startupEditor': 'none' }, null, 2),
  );
  fs.writeFileSync(path.join(dir, '.gitignore'), '.vscode/\n');
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'geometry helpers');
  return dir;
}

/**
 * Machine settings of the VS Code server (the remote side): where a user would put a machine-specific Python.
 * Workspace values of repotune.pythonPath are restricted, so this is the realistic place for it.
 */
export function writeMachineSettings(userDataDir, settings) {
  const dir = path.join(userDataDir, 'Machine');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'settings.json'), JSON.stringify(settings, null, 2));
}
