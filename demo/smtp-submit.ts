/** Submitting one message over SMTP to a sandbox daemon (127.0.0.1 only), with the project's own SMTP reply reader. */
import net from 'node:net';
import { Deadline, SmtpReader, type Stage } from '../src/lib/smtp/reply.js';

/**
 * EHLO, MAIL FROM, RCPT TO, DATA, QUIT; throws on any unexpected reply. Returns the 250 text after DATA (postfix:
 * "2.0.0 Ok: queued as <queue id>").
 */
export async function submitMessage(o: {
  port: number;
  from: string;
  to: string;
  subject: string;
  body: string;
  timeoutMs?: number;
}): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port: o.port });
  const reader = new SmtpReader(socket);
  const deadline = new Deadline(o.timeoutMs ?? 15_000);
  const expect = async (stage: Stage, what: string, code: number) => {
    const r = await reader.read(stage, deadline, what);
    if (r.code !== code) throw new Error(`${what}: ${r.code} ${r.text} (expected ${code})`);
    return r.text;
  };
  try {
    await expect('banner', 'the greeting', 220);
    reader.send('EHLO client.sandbox.localdomain');
    await expect('ehlo', 'EHLO', 250);
    reader.send(`MAIL FROM:<${o.from}>`);
    await expect('mail', 'MAIL FROM', 250);
    reader.send(`RCPT TO:<${o.to}>`);
    await expect('mail', 'RCPT TO', 250);
    reader.send('DATA');
    await expect('mail', 'DATA', 354);
    // Dot-stuffing: a body line starting with "." gets another one.
    const body = o.body.split(/\r?\n/).map((l) => (l.startsWith('.') ? `.${l}` : l));
    reader.send([`From: <${o.from}>`, `To: <${o.to}>`, `Subject: ${o.subject}`, '', ...body, '.'].join('\r\n'));
    const queued = await expect('mail', 'the end of DATA', 250);
    reader.send('QUIT');
    await expect('quit', 'QUIT', 221).catch(() => '');
    return queued;
  } finally {
    socket.destroy();
  }
}
