/**
 * Child process of bench/harvest.mjs: harvests one repository into a corpus folder and prints one JSON line with
 * the wall time, this process's peak resident memory (VmHWM) and CPU time (main thread and the others: the native
 * scan on libuv's pool, worker threads, V8's helpers), so the figures cover the harvest alone.
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

/**
 * CPU seconds (user + system) of this process's main thread and of all its other threads, those that already
 * ended (the harvest's worker threads) included (Linux; else null).
 */
function cpuSeconds(): { main: number; others: number } | null {
  const ticksPerSecond = 100; // USER_HZ, 100 on every Linux build Node supports
  try {
    const stat = fs.readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const main = (Number(fields[11]) + Number(fields[12])) / ticksPerSecond; // utime, stime
    const { user, system } = process.cpuUsage(); // the whole process, in microseconds
    return { main, others: Math.max(0, (user + system) / 1e6 - main) };
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const [repo, corpusDir, workersArg] = process.argv.slice(2);
  const workers = workersArg ? Number(workersArg) : undefined;
  const start = performance.now();
  const result = await harvest(repo, { corpusDir, workers });
  const ms = performance.now() - start;
  const used = workers ?? workerCount(undefined, result.manifest.filesIn);
  console.log(JSON.stringify({ ms, workers: used, peakRss: peakRssBytes(), cpu: cpuSeconds(), notices: result.notices, manifest: result.manifest }));
}

sizeThreadPoolForHarvest(); // as the CLI and the sidecar do
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
