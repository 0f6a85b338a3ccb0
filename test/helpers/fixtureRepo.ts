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

/** Where the integration and e2e tests ask for a completion. */
export const FIXTURE_PROBE = { file: 'src/shapes.py', cursorAfter: '    def area(self):\n        return ' } as const;

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
