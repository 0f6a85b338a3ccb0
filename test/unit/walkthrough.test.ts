// The first-run walkthrough in package.json: every step links a registered command, completes on it, and has
// media that exists and ships in the VSIX (the .vscodeignore allow-list).
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { COMMANDS } from '../../src/settingsSchema';
import { REPO_ROOT } from '../helpers/paths';

interface Step { id: string; title: string; description: string; media: { markdown?: string }; completionEvents: string[] }

const manifest = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
const commandIds = new Set(Object.values(COMMANDS).map((c) => c.command));

test('the walkthrough id matches what the extension opens', () => {
  const source = fs.readFileSync(path.join(REPO_ROOT, 'src', 'walkthrough.ts'), 'utf8');
  const id = manifest.contributes.walkthroughs[0].id;
  assert.ok(source.includes(`'${manifest.publisher}.${manifest.name}#${id}'`), `src/walkthrough.ts must open ${manifest.publisher}.${manifest.name}#${id}`);
  assert.deepEqual(manifest.extensionKind, ['workspace']);
});

test('steps: check, create environment, choose model, fine-tune, dashboard; each completes on its command', () => {
  const steps: Step[] = manifest.contributes.walkthroughs[0].steps;
  assert.deepEqual(steps.map((s) => s.id), ['checkEnvironment', 'setupEnvironment', 'chooseModel', 'fineTune', 'openDashboard']);
  for (const step of steps) {
    const link = /\(command:([\w.]+)\)/.exec(step.description)?.[1];
    assert.ok(link && commandIds.has(link as never), `${step.id} links a registered command (${link})`);
    assert.deepEqual(step.completionEvents, [`onCommand:${link}`]);
    const media = path.join(REPO_ROOT, step.media.markdown ?? '');
    assert.ok(fs.existsSync(media) && fs.statSync(media).isFile(), `${step.id}: ${media}`);
  }
});

test('the media and the trainer requirements ship: allow-listed and required by the VSIX check', () => {
  const allow = fs.readFileSync(path.join(REPO_ROOT, '.vscodeignore'), 'utf8').split('\n');
  assert.ok(allow.includes('!media/**'));
  assert.ok(allow.includes('!server/trainer/requirements.txt'));
  const required = fs.readFileSync(path.join(REPO_ROOT, 'scripts', 'vsix-contents.mjs'), 'utf8');
  const media = new Set(manifest.contributes.walkthroughs[0].steps.map((s: Step) => s.media.markdown));
  for (const file of [...media, 'server/trainer/requirements.txt']) assert.ok(required.includes(`'extension/${file}'`), `${file} in REQUIRED_FILES`);
});
