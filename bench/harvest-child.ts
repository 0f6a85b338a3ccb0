/**
 * Child process of bench/harvest.mjs: harvests one repository into a corpus folder and prints one JSON line with
 * the wall time and this process's peak resident memory (VmHWM), so the figure covers the harvest alone.
 */
import * as fs from 'node:fs';
import { harvest } from '../server/src/harvest/harvest';

function peakRssBytes(): number {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : process.memoryUsage().rss;
}

async function main(): Promise<void> {
  const [repo, corpusDir] = process.argv.slice(2);
  const start = performance.now();
  const result = await harvest(repo, { corpusDir });
  const ms = performance.now() - start;
  console.log(JSON.stringify({ ms, peakRss: peakRssBytes(), manifest: result.manifest }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
