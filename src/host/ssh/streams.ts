/**
 * Big data on its own channel: readStream (cat), writeStream (mktemp + cat, then a durable rename; `prepare`
 * adds owner, mode and times to the temp before it is synced), tarOut.
 */
import { Writable } from 'node:stream';
import { dirnamePath } from '../path.js';
import type { HostPath, HostWriteStream } from '../types.js';
import { exited, type Channels } from './channels.js';
import { call, syncCmd, type OpsContext } from './ops.js';
import { octal, printfData, raw, sh } from './quote.js';

export function readStream(ch: Channels, p: HostPath): NodeJS.ReadableStream {
  return ch.output(sh`exec cat -- ${p}`, `reading ${String(p)}`);
}

/** The host's tar: uncompressed, numeric owners, no recursion, names NUL-separated from a printf pipe. */
export function tarOut(ch: Channels, c: OpsContext, cwd: HostPath, names: Buffer[]): NodeJS.ReadableStream {
  const noRec = c.facts.tar === 'gnu' ? '--no-recursion' : '-n';
  const list = printfData(Buffer.concat(names.flatMap((n) => [n, Buffer.from([0])])));
  return ch.output(
    sh`cd -- ${cwd} || exit 1; { ${raw(list)}} | tar -c -f - --numeric-owner ${raw(noRec)} --null -T -; exit $?`,
    'tar',
  );
}

/**
 * The channel makes the temp (0600 by mktemp, then `mode`) and says its name before reading a byte; commit()
 * waits for cat to finish, then syncs and renames over the persistent shell.
 */
export function writeStream(
  ch: Channels,
  c: OpsContext,
  p: HostPath,
  mode: number,
  prepare?: (temp: HostPath) => Buffer,
): HostWriteStream {
  const dir = dirnamePath(p);
  const opened = ch.open(
    sh`_t=$(mktemp ${dir}/.mta.XXXXXXXX) || exit 1; chmod ${octal(mode)} "$_t" || exit 1; printf '%s\\n' "\${_t##*/}"; exec cat >"$_t"; exit`,
  );
  let temp: Promise<HostPath> | undefined;
  const started = opened.then((child) => {
    temp = new Promise<HostPath>((resolve, reject) => {
      let got = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        got = Buffer.concat([got, d]);
        const nl = got.indexOf(0x0a);
        if (nl < 0) return;
        child.stdout!.off('data', onData);
        resolve(Buffer.concat([Buffer.from(dir), Buffer.from('/'), got.subarray(0, nl)]));
      };
      child.stdout!.on('data', onData);
      child.once('exit', (code) =>
        reject(Object.assign(new Error(`cannot create a temp file in ${String(dir)} (exit ${code})`), { code: 'EIO' })),
      );
    });
    return temp.then(() => child);
  });
  started.catch(() => {});
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      started.then((child) => (child.stdin!.write(chunk) ? cb() : child.stdin!.once('drain', () => cb())), cb);
    },
    final(cb) {
      started.then((child) => (child.stdin!.end(), cb()), cb);
    },
  });
  let settled = false;
  return {
    stream,
    async commit() {
      const child = await started;
      const { code } = await exited(child);
      const t = await temp!;
      if (code !== 0)
        throw Object.assign(new Error(`writing ${String(p)} on ${c.label} failed (exit ${code})`), { code: 'EIO' });
      const sync = syncCmd(c.facts);
      const before = raw(prepare ? Buffer.concat([prepare(t), Buffer.from(' && ')]) : '');
      await call(
        c,
        'rename',
        p,
        sh`${before}${sync} ${t} && mv -f ${t} ${p} && ${sync} ${dir} || { _rc=$?; rm -f ${t}; return $_rc; }`,
      );
      settled = true;
    },
    async abort() {
      if (settled) return;
      settled = true;
      const child = await started.catch(() => undefined);
      if (!child) return;
      child.stdin!.end();
      await exited(child);
      await call(c, 'rm', p, sh`rm -f ${await temp!}`);
    },
  };
}
