/**
 * Category 3: a finished run's backup is tampered with, then `rollback`. Pass: refused (a documented non-zero
 * exit, no stack trace, no hang) and the root exactly as the run left it: nothing live changed. Raw damage
 * (bit flips, truncation, a FIFO or directory in place), store records, and forgeries with archive and record
 * consistent (the journal's sha256 catches them) or with the journal rewritten too (root on the host: then only
 * the structural checks stand). A forged copy of the real backup with the journal rewritten is the control: it
 * must restore, or the forging itself is wrong.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { setup, state } from '../../test/helpers/sample-run.js';
import { type Ctx, cli, crashOf, gist, repro, tmpdir, want } from './lib.js';
import { type Backup, type Manifest, type Member, entryOf, findBackup, membersOf, writeForged } from './forge.js';
import { treeDiff } from './tree-diff.js';

type Env = { b: Backup; orig: string; base: string };
type Variant = [name: string, tamper: (e: Env) => Promise<void>, expect?: 'restore'];

/** `where`: a fraction of the size (0 < where < 1), a byte offset (≥ 1), or from the end (< 0). */
const flip =
  (where: number) =>
  async ({ b }: Env) => {
    const buf = await fs.readFile(b.archive);
    const at = where < 0 ? buf.length + where : where >= 1 ? where : Math.floor(buf.length * where);
    buf[at]! ^= 0x24;
    await fs.writeFile(b.archive, buf);
  };
const truncate =
  (frac: number) =>
  async ({ b }: Env) => {
    const size = (await fs.stat(b.archive)).size;
    await fs.truncate(b.archive, frac < 0 ? size + frac : Math.floor(size * frac));
  };
const replace =
  (file: (b: Backup) => string, how: 'fifo' | 'dir' | 'rm' | 'passwd') =>
  async ({ b }: Env) => {
    const f = file(b);
    await fs.rm(f);
    if (how === 'fifo') execFileSync('mkfifo', [f]);
    if (how === 'dir') await fs.mkdir(f);
    if (how === 'passwd') await fs.symlink('/etc/passwd', f);
  };
const editRecord =
  (fn: (r: any, text: string) => string) =>
  async ({ b }: Env) => {
    const text = await fs.readFile(b.recordFile, 'utf8');
    await fs.writeFile(b.recordFile, fn(JSON.parse(text), text));
  };
/** Forge from the real members: `fn` edits manifest and members; the manifest's entries follow the members. */
const forge =
  (fn: (m: Manifest, ms: Member[]) => void, o: { journal?: boolean; keepEntries?: boolean } = {}) =>
  async ({ b, orig }: Env) => {
    const manifest: Manifest = structuredClone(b.record.manifest);
    const ms = await membersOf(b, orig);
    fn(manifest, ms);
    if (!o.keepEntries) manifest.entries = ms.map(entryOf);
    await writeForged(b, manifest, ms, { journal: o.journal });
  };
const head = (name: string, type: string, extra: Partial<Member['head']> = {}, data = 'pwned\n'): Member => ({
  head: { path: name, type, size: Buffer.byteLength(data), mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), ...extra },
  data: type === 'File' ? Buffer.from(data) : Buffer.alloc(0),
});
const outside = (m: Manifest, ms: Member[]) => {
  m.paths.push({ path: '/etc/cron.d/', name: 'etc/cron.d', state: 'present' });
  ms.push(head('etc/cron.d', 'Directory', { mode: 0o755 }), head('etc/cron.d/pwn', 'File'));
};
const setuid = (_m: Manifest, ms: Member[]) => ms.push(head('etc/mail/evil', 'File', { mode: 0o4755 }));
const escape = (_m: Manifest, ms: Member[]) =>
  ms.push(head('etc/mail/esc', 'SymbolicLink', { linkpath: '../../../../../../../../tmp/pwn' }));
const dotdot = (_m: Manifest, ms: Member[]) => ms.push(head('etc/mail/../../../../tmp/pwn', 'File'));
const absolute = (_m: Manifest, ms: Member[]) => ms.push(head('/tmp/pwn-abs', 'File'));
const fifo = (_m: Manifest, ms: Member[]) => ms.push(head('etc/mail/fifo', 'FIFO'));
const hardlink = (_m: Manifest, ms: Member[]) => ms.push(head('etc/mail/hl', 'Link', { linkpath: 'etc/passwd' }));
const huge = (_m: Manifest, ms: Member[]) => {
  const cf = ms.find((x) => x.head.path === 'etc/mail/sendmail.cf')!;
  cf.head.size = 8 * 2 ** 30;
};
const swap = (_m: Manifest, ms: Member[]) => {
  const cf = ms.find((x) => x.head.path === 'etc/mail/sendmail.cf')!;
  cf.data = ms.find((x) => x.head.path === 'usr/local/sbin/sendmail')!.data;
  cf.head.size = cf.data.length;
};
const longName = (_m: Manifest, ms: Member[]) =>
  ms.push(head(`etc/mail/${'L'.repeat(250)}/${'M'.repeat(200)}`, 'File'));

export const VARIANTS: Variant[] = [
  ['bit flip in the gzip header', flip(3)],
  ['bit flip at 1/4', flip(0.25)],
  ['bit flip in the middle', flip(0.5)],
  ['bit flip at 3/4', flip(0.75)],
  ['bit flip in the gzip trailer (CRC)', flip(-6)],
  ['truncated to 0 bytes', truncate(0)],
  ['truncated to 50 %', truncate(0.5)],
  ['truncated by 1 byte', truncate(-1)],
  ['1 KiB of garbage appended', async ({ b }) => fs.appendFile(b.archive, Buffer.alloc(1024, 0x41))],
  ['archive replaced by a FIFO', replace((b) => b.archive, 'fifo')],
  ['archive replaced by a directory', replace((b) => b.archive, 'dir')],
  ['archive replaced by a symlink to /etc/passwd', replace((b) => b.archive, 'passwd')],
  ['archive deleted', replace((b) => b.archive, 'rm')],
  ['store record garbage', editRecord(() => '\u0000\u00ff{{{garbage')],
  ['store record truncated', editRecord((_r, t) => t.slice(0, t.length >> 1))],
  [
    'store record sha256 changed',
    editRecord((r) => JSON.stringify({ ...r, archive: { ...r.archive, sha256: 'a'.repeat(64) } })),
  ],
  [
    'store record manifest names another path',
    editRecord((r, t) => t.replace('"path":"/usr/sbin/sendmail"', '"path":"/etc/shadow"')),
  ],
  ['store record replaced by a FIFO', replace((b) => b.recordFile, 'fifo')],
  ['store record deleted', replace((b) => b.recordFile, 'rm')],
  ['forged: member swapped (sendmail.cf holds the binary)', forge(swap)],
  ['forged: manifest path outside the plan (/etc/cron.d)', forge(outside)],
  ['forged: setuid member added', forge(setuid)],
  ['forged: symlink member escaping the root', forge(escape)],
  ['forged: `..` member name', forge(dotdot)],
  ['forged: absolute member name', forge(absolute)],
  ['forged: FIFO member', forge(fifo)],
  ['forged: hard link member', forge(hardlink)],
  ['forged: huge member (8 GiB claimed)', forge(huge, { keepEntries: true })],
  [
    'forged: member not in the manifest',
    forge((_m, ms) => ms.push(head('etc/mail/extra', 'File')), { keepEntries: true }),
  ],
  ['forged: manifest entry without its member', forge((_m, ms) => void ms.pop(), { keepEntries: true })],
  ['forged: 450-character member name', forge(longName)],
  // Root on the host can rewrite archive, record and journal together (docs/security.md): restored, as documented.
  ['forged + journal: member swapped (documented limit)', forge(swap, { journal: true }), 'restore'],
  ['forged + journal: path outside the plan', forge(outside, { journal: true })],
  ['forged + journal: symlink escaping', forge(escape, { journal: true })],
  ['forged + journal: `..` member name', forge(dotdot, { journal: true })],
  ['forged + journal: absolute member name', forge(absolute, { journal: true })],
  ['forged + journal: FIFO member', forge(fifo, { journal: true })],
  ['forged + journal: hard link member', forge(hardlink, { journal: true })],
  ['forged + journal: huge member', forge(huge, { journal: true, keepEntries: true })],
  [
    'forged + journal: member not in the manifest',
    forge((_m, ms) => ms.push(head('etc/mail/x', 'File')), { journal: true, keepEntries: true }),
  ],
  ['control: forged copy of the real backup + journal', forge(() => {}, { journal: true }), 'restore'],
];

export function tamperTrials() {
  return { name: 'tamper', trials: VARIANTS.length, run: tamperTrial, parallel: 2 };
}

async function tamperTrial(ctx: Ctx, i: number): Promise<void> {
  const C = 'tamper';
  if (!want(ctx, C, i)) return;
  const [name, tamper, expect] = VARIANTS[i]!;
  const t0 = performance.now();
  const base = await tmpdir(C);
  const record = (outcome: 'pass' | 'refused' | 'fail' | 'crash' | 'hang', detail: string) =>
    ctx.record({ category: C, name, outcome, detail, repro: repro(ctx, C, i), ms: performance.now() - t0 });
  try {
    const s = await setup(base, { name: 'tamper' });
    const before = await state(s.root);
    const orig = path.join(base, 'orig');
    execFileSync('cp', ['-a', s.root, orig]);
    const run = await cli(['run', s.plan, '--root', s.root, '--state-dir', s.stateDir, '--yes']);
    if (run.code !== 0) return record('fail', `the run itself failed: ${gist(run)}`);
    const after = await state(s.root);
    await tamper({ b: await findBackup(s.stateDir), orig, base });
    const rb = await cli(['rollback', '--root', s.root, '--state-dir', s.stateDir, '--yes'], { timeoutMs: 30_000 });
    if (rb.hung) return record('hang', 'rollback hung (killed after 30 s)');
    const crash = crashOf(rb);
    if (crash) return record('crash', `${crash}: ${gist(rb)}`);
    const now = await state(s.root);
    const strays = ['/tmp/pwn', '/tmp/pwn-abs'].filter(
      (p) => execFileSync('sh', ['-c', `ls -d ${p} 2>/dev/null || true`]).length,
    );
    if (strays.length) return record('fail', `wrote outside the root: ${strays.join(', ')}`);
    if (expect === 'restore') {
      if (rb.code !== 0) return record('fail', `expected a restore: ${gist(rb)}`);
      const d = treeDiff(before, now).filter((l) => !l.startsWith('etc/mail/sendmail.cf'));
      return record(d.length ? 'fail' : 'pass', d.length ? d.slice(0, 3).join('; ') : 'restored, as documented');
    }
    if (rb.code === 0) return record('fail', `accepted: ${gist(rb)}`);
    const d = treeDiff(after, now);
    if (d.length) return record('fail', `refused (${gist(rb)}) after a live change: ${d.slice(0, 3).join('; ')}`);
    record('refused', gist(rb));
  } finally {
    await fs.rm(base, { recursive: true, force: true });
  }
}
