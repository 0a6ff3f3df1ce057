/** Worker thread entry, started by parallel.ts: scan the range it was given and post the result. */
import { parentPort, workerData } from 'node:worker_threads';
import { scanRange, type PostedScan, type ScanTask } from './range-scan.js';

if (parentPort && workerData?.tlsScan) {
  const r = await scanRange(workerData.tlsScan as ScanTask);
  const posted: PostedScan = { ...r, tally: r.tally.data(), parsed: r.parsed.data() };
  parentPort.postMessage(posted);
}
