import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../helpers/paths';
import {
  COMMANDS,
  SETTINGS,
  commandsContribution,
  configurationContribution,
} from '../../src/settingsSchema';

const FIX_HINT = 'package.json drifted from src/settingsSchema.ts: run `node scripts/sync-manifest.mjs`';

function manifest(): { contributes?: { configuration?: unknown; commands?: unknown }; activationEvents?: string[]; capabilities?: any } {
  return JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
}

test('package.json contributes.configuration is generated from the settings schema', () => {
  assert.deepEqual(manifest().contributes?.configuration, configurationContribution(), FIX_HINT);
});

test('package.json contributes.commands is generated from the command list', () => {
  assert.deepEqual(manifest().contributes?.commands, commandsContribution(), FIX_HINT);
});

test('every setting has a default of its declared type and lives in the repotune section', () => {
  for (const [id, schema] of Object.entries(SETTINGS)) {
    assert.ok(id.startsWith('repotune.'), id);
    const expectedType = schema.type === 'integer' ? 'number' : schema.type;
    assert.equal(typeof schema.default, expectedType, `${id} default`);
    if ('enum' in schema) assert.ok((schema.enum as readonly string[]).includes(schema.default as string), `${id} default in enum`);
  }
});

test('the extension declares limited support for untrusted workspaces and restricts path settings', () => {
  const untrusted = manifest().capabilities?.untrustedWorkspaces;
  assert.equal(untrusted?.supported, 'limited');
  assert.deepEqual(untrusted?.restrictedConfigurations, ['repotune.pythonPath', 'repotune.modelDirectory']);
});

test('command ids are unique and in the repotune namespace', () => {
  const ids = Object.values(COMMANDS).map((c) => c.command);
  assert.equal(new Set(ids).size, ids.length);
  for (const id of ids) assert.match(id, /^repotune\.[a-zA-Z]+$/);
});
