/**
 * Real trees for backup, restore and crash tests. `snapshotTree` captures what a restore must bring back exactly;
 * mtimes are compared in whole milliseconds (what utimes can set back reliably through a double).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';

export interface NodeInfo {
  type: 'file' | 'dir' | 'symlink' | 'other';
  sha256?: string;
  mode: number;
  uid: number;
  gid: number;
  mtimeMs: number;
  link?: string;
}

/** Every path under `dir` (relative, '.' for dir itself), lstat-based: links are not followed. */
export async function snapshotTree(dir: string): Promise<Map<string, NodeInfo>> {
  const out = new Map<string, NodeInfo>();
  const visit = async (rel: string): Promise<void> => {
    const p = path.join(dir, rel);
    const st = await fs.lstat(p);
    const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtimeMs: Math.round(st.mtimeMs) };
    if (st.isFile())
      out.set(rel, {
        type: 'file',
        ...base,
        sha256: createHash('sha256')
          .update(await fs.readFile(p))
          .digest('hex'),
      });
    else if (st.isSymbolicLink()) out.set(rel, { type: 'symlink', ...base, mode: 0, link: await fs.readlink(p) });
    else if (st.isDirectory()) {
      out.set(rel, { type: 'dir', ...base });
      for (const c of (await fs.readdir(p)).sort()) await visit(rel === '.' ? c : `${rel}/${c}`);
    } else out.set(rel, { type: 'other', ...base });
  };
  await visit('.');
  return out;
}

export interface SampleTree {
  /** Plan paths (absolute, dirs with a trailing slash), one of them absent. */
  paths: string[];
  absent: string;
}

const T0 = new Date('2026-01-15T10:20:30.123Z');

async function file(p: string, data: string | Buffer, mode: number, uid = 0, gid = 0): Promise<void> {
  await fs.mkdir(path.dirname(p), { recursive: true });
  await fs.writeFile(p, data);
  await fs.chown(p, uid, gid);
  await fs.chmod(p, mode);
  await fs.utimes(p, T0, T0);
}

/**
 * Under `root`: a setuid binary, a 0600 secret, a symlink with an absolute target, a directory tree (with a 0700
 * subdirectory and a file owned by a uid with no name), and a plan path that does not exist.
 */
export async function makeSampleTree(root: string): Promise<SampleTree> {
  await file(path.join(root, 'usr/local/sbin/sendmail'), randomBytes(200_000), 0o4755, 0, 25);
  await fs.mkdir(path.join(root, 'usr/sbin'), { recursive: true });
  await fs.symlink('/usr/local/sbin/sendmail', path.join(root, 'usr/sbin/sendmail'));
  await fs.lchown(path.join(root, 'usr/sbin/sendmail'), 0, 0);
  const mail = path.join(root, 'etc/mail');
  await file(path.join(mail, 'sendmail.cf'), 'O QueueDirectory=/var/spool/mqueue\n'.repeat(500), 0o644);
  await file(path.join(mail, 'sendmail.mc'), "define(`confCACERT', `/etc/mail/certs/ca.pem')dnl\n", 0o644);
  await file(path.join(mail, 'certs/key.pem'), '-----BEGIN PRIVATE KEY-----\nsecret\n', 0o600);
  await file(path.join(mail, 'certs/ca.pem'), '-----BEGIN CERTIFICATE-----\n', 0o644);
  await file(path.join(mail, 'auth/sasl-passwd'), 'user:secret\n', 0o600, 0, 0);
  await file(path.join(mail, 'deep/a/b/c/local-host-names'), 'mail.example.org\n', 0o640, 1001, 1001);
  await file(path.join(mail, 'empty'), '', 0o444);
  await fs.symlink('certs/ca.pem', path.join(mail, 'ca-link'));
  for (const d of ['certs', 'auth', 'deep/a/b/c', 'deep/a/b', 'deep/a', 'deep', '.']) {
    const p = path.join(mail, d);
    await fs.chmod(p, d === 'certs' ? 0o700 : 0o755);
    await fs.utimes(p, T0, T0);
  }
  const absent = '/usr/local/lib/libmilter-new.so';
  return { paths: ['/usr/local/sbin/sendmail', '/usr/sbin/sendmail', '/etc/mail/', absent], absent };
}
