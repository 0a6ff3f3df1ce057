/** Worker thread entry, started by parallel.ts: scan the range it was given, post the early part of its tally, then the result. */
import { parentPort, workerData } from 'node:worker_threads';
import { scanRange, type PostedScan, type ScanTask } from './range-scan.js';

if (parentPort && workerData?.tlsScan) {
  const r = await scanRange(workerData.tlsScan as ScanTask, (part) => parentPort!.postMessage({ part: part.data() }));
  const posted: PostedScan = { ...r, tally: r.tally.data() };
  parentPort.postMessage(posted);
}
