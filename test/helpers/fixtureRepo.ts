/**
 * A small, repetitive Python repository built in a test (git init + two commits), so the DEMO model can learn it in
 * a few dozen steps. The newest commit adds one file, which the harvest holds out.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const SHAPES = `"""Shapes with areas and perimeters."""


class Rectangle:
    def __init__(self, width, height):
        self.width = width
        self.height = height

    def area(self):
        return self.width * self.height

    def perimeter(self):
        return 2 * (self.width + self.height)


class Square(Rectangle):
    def __init__(self, side):
        super().__init__(side, side)


def total_area(shapes):
    return sum(shape.area() for shape in shapes)
`;

const GEOMETRY = `"""Geometry helpers."""


def scale(shape, factor):
    shape.width = shape.width * factor
    shape.height = shape.height * factor
    return shape


def describe(shape):
    return f"{type(shape).__name__}({shape.width} x {shape.height})"
`;

const NEWEST = `"""Added in the newest commit: held out from training."""


def largest(shapes):
    return max(shapes, key=lambda shape: shape.area())
`;

/** Where the integration test asks for a completion: the user has just typed `return ` on area()'s last line. */
export const FIXTURE_PROBE = { file: 'src/shapes.py', cursorAfter: '    def area(self):\n        return ' } as const;

/** The probe file as the user sees it mid-typing: the rest of the cursor's line not written yet. Returns text + offset. */
export function probeDocument(repo: string): { text: string; offset: number } {
  const full = fs.readFileSync(path.join(repo, FIXTURE_PROBE.file), 'utf8');
  const offset = full.indexOf(FIXTURE_PROBE.cursorAfter) + FIXTURE_PROBE.cursorAfter.length;
  const lineEnd = full.indexOf('\n', offset);
  return { text: full.slice(0, offset) + full.slice(lineEnd), offset };
}

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.name=RepoTune Test', '-c', 'user.email=test@repotune.invalid', ...args], { cwd, stdio: 'ignore' });
}

export function makeFixtureRepo(dir: string): string {
  fs.mkdirSync(path.join(dir, 'src'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'src', 'shapes.py'), SHAPES);
  fs.writeFileSync(path.join(dir, 'src', 'geometry.py'), GEOMETRY);
  fs.writeFileSync(path.join(dir, 'README.md'), '# Shapes\n\nA tiny fixture repository for RepoTune tests.\n');
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'shapes');
  fs.writeFileSync(path.join(dir, 'src', 'newest.py'), NEWEST);
  git(dir, 'add', '-A');
  git(dir, 'commit', '-q', '-m', 'newest');
  return dir;
}
