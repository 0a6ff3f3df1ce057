/** The mta-upgrade CLI as a real process, the facts of a run from its journal, and durations for the screen. */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { CLI, REPO } from './repo-plan.js';
import type { RunResult } from './run-process.js';

/** The mta-upgrade CLI as a real process; stdout/stderr captured and, when `echo` is given, streamed line by line. */
export function mta(
  args: string[],
  o: { echo?: (line: string) => void; timeoutMs?: number; env?: Record<string, string> } = {},
): Promise<RunResult & { pid?: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: REPO,
      env: { ...process.env, NO_COLOR: '1', ...o.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const lines = (text: string, carry: { s: string }) => {
      carry.s += text;
      const parts = carry.s.split('\n');
      carry.s = parts.pop()!;
      for (const l of parts) o.echo?.(l);
    };
    const co = { s: '' };
    const ce = { s: '' };
    child.stdout.on('data', (d) => ((stdout += d), lines(String(d), co)));
    child.stderr.on('data', (d) => ((stderr += d), lines(String(d), ce)));
    const timer = setTimeout(() => child.kill('SIGTERM'), o.timeoutMs ?? 30 * 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const c of [co, ce]) if (c.s) o.echo?.(c.s);
      resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr, ms: performance.now() - t0, pid: child.pid });
    });
  });
}

/** Metrics of a run from its journal (notes with event 'metric'), and the rollback's duration when it has one. */
export async function runFacts(
  stateDir: string,
  runId?: string,
): Promise<{ runId: string; metrics: Record<string, number>; rollbackMs?: number; status?: string }> {
  const runs = (await fs.readdir(path.join(stateDir, 'runs')).catch(() => [] as string[])).sort();
  const id = runId ?? runs[runs.length - 1];
  if (!id) throw new Error(`no runs in ${stateDir}`);
  const text = await fs.readFile(path.join(stateDir, 'runs', id, 'journal.jsonl'), 'utf8');
  const metrics: Record<string, number> = {};
  let rbStart: number | undefined;
  let rollbackMs: number | undefined;
  let status: string | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as {
      type: string;
      t: number;
      event?: string;
      data?: { name?: string; value?: number };
      status?: string;
    };
    if (r.type === 'note' && r.event === 'metric' && r.data?.name) metrics[r.data.name] = r.data.value!;
    if (r.type === 'rollback' && r.status === 'started') rbStart = r.t;
    if (r.type === 'rollback' && r.status !== 'started' && rbStart !== undefined) rollbackMs = r.t - rbStart;
    if (r.type === 'end') status = r.status;
  }
  return { runId: id, metrics, rollbackMs, status };
}

export function fmtMs(ms: number | undefined): string {
  if (ms === undefined) return 'n/a';
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`;
}
