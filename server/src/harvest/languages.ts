/** File name → VS Code language id, so harvested files and editor documents use the same language names. */

// Maps, not object literals: a file named `constructor` or `x.toString` must not find Object.prototype's members.
const BY_EXTENSION = new Map<string, string>(Object.entries({
  ts: 'typescript', mts: 'typescript', cts: 'typescript', tsx: 'typescriptreact',
  js: 'javascript', mjs: 'javascript', cjs: 'javascript', jsx: 'javascriptreact',
  py: 'python', pyi: 'python', pyw: 'python', ipynb: 'jupyter',
  java: 'java', kt: 'kotlin', kts: 'kotlin', scala: 'scala', groovy: 'groovy', gradle: 'groovy',
  c: 'c', h: 'c', cc: 'cpp', cpp: 'cpp', cxx: 'cpp', hpp: 'cpp', hh: 'cpp', hxx: 'cpp', m: 'objective-c', mm: 'objective-cpp',
  cs: 'csharp', fs: 'fsharp', vb: 'vb', go: 'go', rs: 'rust', swift: 'swift', dart: 'dart', zig: 'zig',
  rb: 'ruby', php: 'php', pl: 'perl', pm: 'perl', lua: 'lua', r: 'r', jl: 'julia', ex: 'elixir', exs: 'elixir',
  erl: 'erlang', hs: 'haskell', ml: 'ocaml', mli: 'ocaml', clj: 'clojure', elm: 'elm', nim: 'nim',
  sh: 'shellscript', bash: 'shellscript', zsh: 'shellscript', fish: 'fish', ps1: 'powershell', bat: 'bat', cmd: 'bat',
  sql: 'sql', graphql: 'graphql', gql: 'graphql', proto: 'proto3',
  html: 'html', htm: 'html', vue: 'vue', svelte: 'svelte', css: 'css', scss: 'scss', sass: 'sass', less: 'less',
  json: 'json', jsonc: 'jsonc', json5: 'json5', yaml: 'yaml', yml: 'yaml', toml: 'toml', xml: 'xml', svg: 'xml',
  ini: 'ini', cfg: 'ini', md: 'markdown', mdx: 'mdx', rst: 'restructuredtext', tex: 'latex', txt: 'plaintext',
  tf: 'terraform', hcl: 'hcl', cmake: 'cmake', mk: 'makefile', nix: 'nix', sol: 'solidity',
}));

const BY_NAME = new Map<string, string>(Object.entries({
  Dockerfile: 'dockerfile', Makefile: 'makefile', GNUmakefile: 'makefile', 'CMakeLists.txt': 'cmake',
  Jenkinsfile: 'groovy', Rakefile: 'ruby', Gemfile: 'ruby', '.bashrc': 'shellscript', '.zshrc': 'shellscript',
}));

export function languageOf(relPath: string): string {
  const name = relPath.slice(relPath.lastIndexOf('/') + 1);
  const byName = BY_NAME.get(name);
  if (byName) return byName;
  if (name.startsWith('Dockerfile.')) return 'dockerfile';
  const dot = name.lastIndexOf('.');
  return dot > 0 ? (BY_EXTENSION.get(name.slice(dot + 1).toLowerCase()) ?? 'plaintext') : 'plaintext';
}
