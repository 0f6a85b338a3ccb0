/** Extra fixture steps for harvest tests: commits at chosen dates, clones, submodules (all offline, file://). */
import { execFileSync } from 'node:child_process';
import { git } from './gitFixture';

/** Commits everything with author and committer date `iso` (the holdout-by-days rule reads commit dates). */
export function commitAllAt(dir: string, message: string, iso: string): void {
  git(dir, 'add', '-A');
  execFileSync('git', ['-c', 'user.name=RepoTune Test', '-c', 'user.email=test@repotune.invalid', '-c', 'commit.gpgsign=false', 'commit', '-q', '-m', message], {
    cwd: dir,
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_AUTHOR_DATE: iso, GIT_COMMITTER_DATE: iso },
  });
}

/** `git clone --depth N file://src dest` (file:// so that --depth is honoured for a local path). */
export function shallowClone(src: string, dest: string, depth: number): void {
  git(process.cwd(), 'clone', '-q', `--depth=${depth}`, `file://${src}`, dest);
}

/** Adds `sub` as a submodule at `at` (file transport is off by default since git 2.38.1). */
export function addSubmodule(repo: string, sub: string, at: string): void {
  git(repo, '-c', 'protocol.file.allow=always', 'submodule', 'add', '-q', `file://${sub}`, at);
}
