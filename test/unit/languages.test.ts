/** languageOf: a harvested file's VS Code language id, by name, by extension (any case), else plaintext. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { languageOf } from '../../server/src/harvest/languages';

test('language ids by file name and extension; unknown names are plaintext', () => {
  const cases: [string, string][] = [
    ['src/a.ts', 'typescript'],
    ['deep/dir/B.PY', 'python'],
    ['Dockerfile', 'dockerfile'],
    ['ci/Dockerfile.gpu', 'dockerfile'],
    ['tools/CMakeLists.txt', 'cmake'],
    ['.bashrc', 'shellscript'],
    ['.gitignore', 'plaintext'],
    ['LICENSE', 'plaintext'],
    ['notes.unknownext', 'plaintext'],
    // Names of Object.prototype's members, as a file name or an extension, are not table entries.
    ['constructor', 'plaintext'],
    ['lib/toString', 'plaintext'],
    ['a.constructor', 'plaintext'],
    ['b.__proto__', 'plaintext'],
    ['c.hasOwnProperty', 'plaintext'],
  ];
  for (const [file, language] of cases) assert.equal(languageOf(file), language, file);
});
