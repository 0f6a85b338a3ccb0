#!/usr/bin/env node
// Writes package.json's contributes.configuration and contributes.commands from src/settingsSchema.ts, the single
// source of settings and commands. Touches nothing else in package.json.
//   node scripts/sync-manifest.mjs          → rewrites package.json when it drifted
//   node scripts/sync-manifest.mjs --check  → exits 1 when package.json drifted (CI)
import * as esbuild from 'esbuild';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PACKAGE_JSON = path.join(ROOT, 'package.json');
const SCHEMA_SOURCE = path.join(ROOT, 'src', 'settingsSchema.ts');

async function loadSchemaModule() {
  // The schema is TypeScript: bundle it in memory and import the result, so there is no second copy in JS.
  const built = await esbuild.build({ entryPoints: [SCHEMA_SOURCE], bundle: true, format: 'esm', platform: 'node', write: false });
  const code = built.outputFiles[0].text;
  return import(`data:text/javascript;base64,${Buffer.from(code).toString('base64')}`);
}

const schema = await loadSchemaModule();
const text = fs.readFileSync(PACKAGE_JSON, 'utf8');
const manifest = JSON.parse(text);
const contributes = manifest.contributes ?? {};
const expected = {
  ...contributes,
  commands: schema.commandsContribution(),
  configuration: schema.configurationContribution(),
};
const drifted = JSON.stringify(contributes) !== JSON.stringify(expected);

if (process.argv.includes('--check')) {
  if (drifted) {
    console.error('package.json contributes drifted from src/settingsSchema.ts: run `node scripts/sync-manifest.mjs`');
    process.exit(1);
  }
  console.log('package.json contributes matches src/settingsSchema.ts');
} else if (drifted) {
  manifest.contributes = expected;
  fs.writeFileSync(PACKAGE_JSON, `${JSON.stringify(manifest, null, 2)}\n`);
  console.log('package.json contributes updated from src/settingsSchema.ts');
} else {
  console.log('package.json contributes already up to date');
}
