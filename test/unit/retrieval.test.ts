/** Cross-file retrieval: code terms, BM25 ranking, exclusion of the query's own file, time budget, determinism. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bm25Index, codeTerms } from '../../server/src/retrieval/bm25';
import { buildRetrievalIndex, chunkFile, CHUNK_LINES, contextSnippets, queryOf, QUERY_LINES, retrieve } from '../../server/src/retrieval/repoIndex';

const FILES = [
  { path: 'src/http/client.ts', text: 'export class HttpClient {\n  async fetchJson(url: string) {\n    const res = await fetch(url);\n    return res.json();\n  }\n}\n' },
  { path: 'src/db/pool.ts', text: 'export function createPool(size: number) {\n  return new ConnectionPool({ maxConnections: size });\n}\n' },
  { path: 'src/db/query.ts', text: 'export async function runQuery(pool: ConnectionPool, sql: string) {\n  const conn = await pool.acquire();\n  try {\n    return await conn.query(sql);\n  } finally {\n    pool.release(conn);\n  }\n}\n' },
  { path: 'README.md', text: '# Project\n\nA small service with an HTTP client and a connection pool.\n' },
];

test('code terms split identifiers into their parts and drop keywords', () => {
  assert.deepEqual(codeTerms('const maxConnections = get_pool_size(HTTPServer);'), [
    'maxconnections', 'max', 'connections', 'get_pool_size', 'get', 'pool', 'size', 'httpserver', 'http', 'server',
  ]);
  assert.deepEqual(codeTerms('return x; if (a) {}'), []);
});

test('BM25 ranks the chunk that shares the rare identifiers first; ties break by chunk order', () => {
  const index = buildRetrievalIndex(FILES);
  const hits = retrieve(index, 'const pool = createPool(4);\nawait runQuery(pool, ', 3, Infinity);
  assert.deepEqual(hits.map((h) => h.path).slice(0, 2).sort(), ['src/db/pool.ts', 'src/db/query.ts']);
  assert.ok(hits.every((h, i) => i === 0 || hits[i - 1].score >= h.score));
  const bm25 = new Bm25Index();
  bm25.add(['alpha']);
  bm25.add(['alpha']);
  assert.deepEqual(bm25.search(['alpha'], 2, () => true).map((h) => h.doc), [0, 1], 'equal scores: lower chunk number first');
});

test('the query file is excluded; a spent time budget returns nothing; the same input gives the same result', () => {
  const index = buildRetrievalIndex(FILES);
  const query = 'pool.acquire(); ConnectionPool createPool';
  assert.ok(!retrieve(index, query, 5, Infinity, { excludePath: 'src/db/query.ts' }).some((h) => h.path === 'src/db/query.ts'));
  assert.deepEqual(retrieve(index, query, 5, -1), [], 'deadline already passed: no term is scored');
  const reordered = buildRetrievalIndex([...FILES].reverse());
  assert.deepEqual(retrieve(reordered, query, 5, Infinity), retrieve(index, query, 5, Infinity), 'index independent of file order');
});

test('context snippets come most relevant last and never from the file being edited', () => {
  const index = buildRetrievalIndex(FILES);
  const snippets = contextSnippets(index, { path: 'src/app.ts', prefix: 'import { HttpClient } from "./http/client";\nconst client = new HttpClient();\nclient.fetchJson(' });
  assert.ok(snippets.length >= 1);
  assert.equal(snippets[snippets.length - 1].path, 'src/http/client.ts');
  assert.deepEqual(contextSnippets(index, { path: 'src/http/client.ts', prefix: 'HttpClient fetchJson' }).filter((s) => s.path === 'src/http/client.ts'), []);
});

test('files are chunked by lines; the query is the last lines before the cursor', () => {
  const text = Array.from({ length: CHUNK_LINES * 2 + 3 }, (_, i) => `line${i}`).join('\n');
  const chunks = chunkFile({ path: 'a.txt', text });
  assert.deepEqual(chunks.map((c) => c.line), [0, CHUNK_LINES, CHUNK_LINES * 2]);
  assert.equal(chunks.map((c) => c.text).join('\n'), text);
  const prefix = Array.from({ length: 30 }, (_, i) => `l${i}`).join('\n');
  assert.equal(queryOf(prefix).split('\n').length, QUERY_LINES);
  assert.ok(queryOf(prefix).endsWith('l29'));
  assert.equal(queryOf('short'), 'short');
});
