/** One SMTP greeting + EHLO against a sandbox daemon (127.0.0.1 only): does it answer, and does it offer STARTTLS? */
import net from 'node:net';
import { Deadline, SmtpReader } from '../src/lib/smtp/reply.js';

/**
 * The 220 banner and whether the EHLO reply lists STARTTLS; throws when nothing answers in time (a refused
 * connection during a restart included). Polled by the test and the demo to time "the old daemon answers again".
 */
export async function ehlo(port: number, timeoutMs = 5_000): Promise<{ banner: string; starttls: boolean }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const reader = new SmtpReader(socket);
  const deadline = new Deadline(timeoutMs);
  try {
    const banner = await reader.read('banner', deadline, 'the greeting');
    if (banner.code !== 220) throw new Error(`greeting: ${banner.code} ${banner.text}`);
    reader.send('EHLO client.sandbox.localdomain');
    const r = await reader.read('ehlo', deadline, 'EHLO');
    if (r.code !== 250) throw new Error(`EHLO: ${r.code} ${r.text}`);
    reader.send('QUIT');
    return { banner: `${banner.code} ${banner.text}`, starttls: r.lines.some((l) => /^(250[- ])?STARTTLS\b/i.test(l)) };
  } finally {
    socket.destroy();
  }
}

/**
 * Polls ehlo() every `everyMs` until it answers and `ok` holds; resolves the milliseconds since `t0`
 * (performance.now()), or throws after `withinMs`.
 */
export async function waitForAnswer(
  port: number,
  ok: (a: { banner: string; starttls: boolean }) => boolean,
  t0: number,
  withinMs: number,
  everyMs = 50,
): Promise<number> {
  let last = '';
  while (performance.now() - t0 < withinMs) {
    try {
      const a = await ehlo(port, 2_000);
      if (ok(a)) return performance.now() - t0;
      last = `answered ${a.banner}, STARTTLS ${a.starttls ? 'offered' : 'not offered'}`;
    } catch (e) {
      last = e instanceof Error ? e.message : String(e);
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`127.0.0.1:${port}: not the expected answer within ${withinMs} ms (last: ${last})`);
}
