/**
 * Child process of bench/harvest.mjs: harvests one repository into a corpus folder and prints one JSON line with
 * the wall time and this process's peak resident memory (VmHWM), so the figure covers the harvest alone.
 * Args: <repo> <corpusDir> [workers] (workers: harvest threads, 0 = this thread; default: the harvest's choice).
 */
import * as fs from 'node:fs';
import { harvest } from '../server/src/harvest/harvest';
import { sizeThreadPoolForHarvest, workerCount } from '../server/src/harvest/pool';

function peakRssBytes(): number {
  const status = fs.readFileSync('/proc/self/status', 'utf8');
  const kb = /VmHWM:\s+(\d+) kB/.exec(status);
  return kb ? Number(kb[1]) * 1024 : process.memoryUsage().rss;
}

async function main(): Promise<void> {
  const [repo, corpusDir, workersArg] = process.argv.slice(2);
  const workers = workersArg ? Number(workersArg) : undefined;
  const start = performance.now();
  const result = await harvest(repo, { corpusDir, workers });
  const ms = performance.now() - start;
  const used = workers ?? workerCount(undefined, result.manifest.filesIn);
  console.log(JSON.stringify({ ms, workers: used, peakRss: peakRssBytes(), manifest: result.manifest }));
}

sizeThreadPoolForHarvest(); // as the CLI and the sidecar do
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
