/**
 * `daemon` check: the running MTA is the one on disk and has the new libssl mapped. Catches "installed but never
 * restarted": after `make install` the old process keeps running the old image (its /proc/PID/exe now reads
 * "… (deleted)" or points at another inode) with the old libssl mapped, and every check on the files passes.
 * Linux reads /proc/PID/{exe,maps}; FreeBSD asks `procstat -b` and `procstat -v`.
 */
import * as z from 'zod';
import path from 'node:path';
import { absPath } from '../lib/zod-helpers.js';
import { readPidFile } from '../lib/pid.js';
import { checkBase, type CheckContext, type CheckModule, type CheckResult } from './types.js';

export const daemonCheckSchema = z
  .object({
    type: z.literal('daemon'),
    ...checkBase,
    pidfile: absPath.optional().describe('The MTA pid file (first line is the pid), e.g. /var/run/sendmail.pid.'),
    process: z.string().min(1).optional().describe('Process name when there is no pid file, e.g. sendmail.'),
    binary: absPath.describe('The binary now on disk that the daemon must be running.'),
    libssl_dir: absPath.optional().describe('The mapped libssl must come from under this directory.'),
  })
  .strict()
  .refine((c) => c.pidfile || c.process, { message: 'needs pidfile or process' });
export type DaemonCheck = z.output<typeof daemonCheckSchema>;

interface Image {
  exe?: string;
  exeDeleted: boolean;
  sameInode?: boolean;
  libs: string[];
}

export const daemonCheck: CheckModule<DaemonCheck> = {
  type: 'daemon',
  schema: daemonCheckSchema as unknown as z.ZodType<DaemonCheck>,
  stageable: false,
  describe: (c) =>
    `daemon ${c.pidfile ?? c.process} runs ${c.binary}${c.libssl_dir ? ` with libssl from ${c.libssl_dir}` : ''}`,
  async run(c, ctx): Promise<CheckResult> {
    const pids = await findPids(c, ctx);
    const linux = (await ctx.host.facts()).os === 'linux';
    if (typeof pids === 'string') return { status: 'fail', summary: pids };
    const problems: string[] = [];
    const seen: string[] = [];
    for (const pid of pids) {
      const img = linux ? await linuxImage(ctx, pid, ctx.real(c.binary)) : await freebsdImage(pid, ctx);
      const ssl = img.libs.filter((l) => /\/libssl[.\-_0-9]/.test(l));
      if (img.exeDeleted) problems.push(`pid ${pid} runs a deleted binary (${img.exe}): installed but never restarted`);
      else if (img.sameInode === false)
        problems.push(`pid ${pid} runs an older ${img.exe} than the one on disk: restart it`);
      else if (img.exe && img.sameInode === undefined && path.resolve(img.exe) !== path.resolve(ctx.real(c.binary)))
        problems.push(`pid ${pid} runs ${img.exe}, not ${c.binary}`);
      for (const l of ssl.filter((l) => l.endsWith('(deleted)')))
        problems.push(`pid ${pid} has a deleted libssl mapped (${l}): restart it`);
      if (c.libssl_dir) {
        if (!ssl.length) problems.push(`pid ${pid} has no libssl mapped (built without STARTTLS?)`);
        for (const l of ssl)
          if (!(await under(ctx, l, [c.libssl_dir, ctx.real(c.libssl_dir)])))
            problems.push(`pid ${pid} has ${l} mapped, not one under ${c.libssl_dir}`);
      }
      seen.push(`pid ${pid}: ${img.exe ?? '?'}${ssl.length ? `, ${ssl.join(', ')}` : ''}`);
    }
    const data = { pids, processes: seen };
    if (problems.length)
      return { status: 'fail', summary: problems[0]!, details: [...problems.slice(1), ...seen], data };
    return {
      status: 'pass',
      summary: `${c.pidfile ?? c.process} (pid ${pids.join(', ')}) runs ${c.binary}${c.libssl_dir ? ` with libssl from ${c.libssl_dir}` : ''}`,
      details: seen,
      data,
    };
  },
};

async function findPids(c: DaemonCheck, ctx: CheckContext): Promise<number[] | string> {
  if (c.pidfile) {
    const pid = await readPidFile(ctx.host, ctx.real(c.pidfile));
    if (!pid) return `no pid in ${c.pidfile}: the MTA is not running?`;
    if (!(await ctx.host.processRef(pid)))
      return `${c.pidfile} names pid ${pid}, which is not running (stale pid file)`;
    return [pid];
  }
  const name = c.process!;
  if ((await ctx.host.facts()).os !== 'linux') {
    const r = await ctx.exec.run({ argv: ['pgrep', '-x', name], mutates: false, timeoutMs: 5000 });
    const pids = r.stdout
      .split('\n')
      .map(Number)
      .filter((n) => n > 0);
    return pids.length ? pids : `no process named ${name} is running`;
  }
  const pids: number[] = [];
  for (const d of (await ctx.host.readdir('/proc')).map(String)) {
    if (!/^\d+$/.test(d)) continue;
    // comm is cut to 15 bytes; sendmail rewrites its argv ("sendmail: accepting connections") but not comm
    const comm = (await ctx.host.readFile(`/proc/${d}/comm`).then(String, () => '')).trim();
    if (comm && comm === name.slice(0, 15)) pids.push(Number(d));
  }
  return pids.length ? pids : `no process named ${name} is running`;
}

async function linuxImage(ctx: CheckContext, pid: number, binary: string): Promise<Image> {
  const { host } = ctx;
  const exe = await host.readlink(`/proc/${pid}/exe`).then(String, () => undefined);
  const running = await host.stat(`/proc/${pid}/exe`).catch(() => undefined); // the image itself, deleted or not
  const onDisk = await host.stat(binary).catch(() => undefined);
  const maps = await host.readFile(`/proc/${pid}/maps`).then(String, () => '');
  const libs = new Set<string>();
  for (const line of maps.split('\n')) {
    const p = line.split(/\s+/).slice(5).join(' ');
    if (p.startsWith('/')) libs.add(p);
  }
  return {
    exe: exe?.replace(/ \(deleted\)$/, ''),
    exeDeleted: !!exe?.endsWith(' (deleted)'),
    sameInode: running && onDisk ? running.ino === onDisk.ino && running.dev === onDisk.dev : undefined,
    libs: [...libs],
  };
}

async function freebsdImage(pid: number, ctx: CheckContext): Promise<Image> {
  const b = await ctx.exec.run({ argv: ['procstat', '-b', String(pid)], mutates: false, timeoutMs: 5000 });
  const v = await ctx.exec.run({ argv: ['procstat', '-v', String(pid)], mutates: false, timeoutMs: 5000 });
  // procstat -b: "  PID COMM  OSREL PATH"; an empty PATH means the image is gone from the file system
  const row = b.stdout
    .split('\n')
    .slice(1)
    .find((l) => l.trim().startsWith(String(pid)));
  const exe = row?.trim().split(/\s+/)[3];
  const libs = v.stdout
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/).pop() ?? '')
    .filter((p) => p.startsWith('/'));
  return { exe, exeDeleted: !!row && !exe, libs: [...new Set(libs)] };
}

async function under(ctx: CheckContext, file: string, dirs: string[]): Promise<boolean> {
  const clean = file.replace(/ \(deleted\)$/, '');
  const real = await ctx.host.realpath(clean).catch(() => clean);
  for (const d of dirs) {
    const rd = await ctx.host.realpath(d).catch(() => d);
    if (
      [`${d}/`, `${rd}/`].some(
        (p) => clean.startsWith(p.replace(/\/\/$/, '/')) || real.startsWith(p.replace(/\/\/$/, '/')),
      )
    )
      return true;
  }
  return false;
}
