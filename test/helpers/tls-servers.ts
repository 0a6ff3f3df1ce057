/**
 * Small STARTTLS SMTP servers on 127.0.0.1 (port from the OS) for real-TLS tests: every TLS version, the old
 * libssl (TLSv1.0 only), the NASA side (TLSv1.2 only, one cipher), no STARTTLS, and one that never answers.
 * Multi-line replies go out in one write: line-per-write costs ~47 ms per EHLO (Nagle + delayed ACK).
 */
import net from 'node:net';
import tls from 'node:tls';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { selfSignedArgv } from '../../demo/self-signed.js';

export interface TestCert {
  key: Buffer;
  cert: Buffer;
  certFile: string;
  dir: string;
}

/** A self-signed certificate for `cn` made with `openssl req`, valid for `days`. */
export function makeCert(cn = 'mx.test.invalid', days = 365): TestCert {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mta-cert-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  const [cmd, ...args] = selfSignedArgv({ cn, days, keyFile, certFile });
  execFileSync(cmd!, args, { stdio: 'ignore' });
  return { key: fs.readFileSync(keyFile), cert: fs.readFileSync(certFile), certFile, dir };
}

export interface SmtpServerOptions {
  cert: TestCert;
  /** Advertise and accept STARTTLS (default true). */
  starttls?: boolean;
  minVersion?: tls.SecureVersion;
  maxVersion?: tls.SecureVersion;
  ciphers?: string;
  /** Accept the TCP connection and never say a word. */
  silent?: boolean;
  /** Close right after accepting, before any banner. */
  closeAtOnce?: boolean;
  /** Refuse MAIL FROM before STARTTLS with 530 5.7.0. */
  requireTls?: boolean;
  /** Implicit TLS (submissions, port 465): the handshake first, then the banner inside TLS. */
  implicitTls?: boolean;
  /** Called when a STARTTLS handshake has completed, before the next command is read (e.g. to log it). */
  onSecure?: (t: tls.TLSSocket) => void;
}

export interface SmtpServer {
  port: number;
  /** Commands received, in order, per connection: lets tests prove we never pipelined. */
  sessions: string[][];
  close(): Promise<void>;
}

export const SERVERS = {
  all: { minVersion: 'TLSv1', maxVersion: 'TLSv1.3', ciphers: 'DEFAULT:@SECLEVEL=0' },
  oldLibssl: { minVersion: 'TLSv1', maxVersion: 'TLSv1', ciphers: 'DEFAULT:@SECLEVEL=0' },
  nasa: { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' },
} as const;

export async function startSmtpServer(o: SmtpServerOptions): Promise<SmtpServer> {
  const ctx = tls.createSecureContext({
    key: o.cert.key,
    cert: o.cert.cert,
    minVersion: o.minVersion,
    maxVersion: o.maxVersion,
    ciphers: o.ciphers,
  });
  const sessions: string[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    if (o.closeAtOnce) return void sock.destroy();
    if (o.silent) return;
    sock.setNoDelay(true);
    const log: string[] = [];
    sessions.push(log);
    if (o.implicitTls) {
      const t = new tls.TLSSocket(sock, { isServer: true, secureContext: ctx });
      t.on('error', () => {});
      return void converse(t, true, log, true);
    }
    converse(sock, false, log);
  });
  function converse(sock: net.Socket | tls.TLSSocket, secure: boolean, log: string[], greet = !secure): void {
    let buf = '';
    const onData = (d: Buffer) => {
      buf += d.toString('latin1');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        log.push(line + (buf ? ' [PIPELINED]' : ''));
        const verb = line.split(' ')[0]!.toUpperCase();
        if (verb === 'EHLO') {
          const ext = [
            'PIPELINING',
            '8BITMIME',
            'SIZE 10485760',
            ...(o.starttls !== false && !secure ? ['STARTTLS'] : []),
            'HELP',
          ];
          sock.write(
            [`250-mx.test.invalid Hello`, ...ext.map((x, i) => `250${i === ext.length - 1 ? ' ' : '-'}${x}`)].join(
              '\r\n',
            ) + '\r\n',
          );
        } else if (verb === 'STARTTLS' && o.starttls !== false && !secure) {
          sock.off('data', onData);
          sock.write('220 2.0.0 Ready to start TLS\r\n');
          const t = new tls.TLSSocket(sock, { isServer: true, secureContext: ctx });
          t.on('error', () => {});
          if (o.onSecure) t.once('secure', () => o.onSecure!(t));
          converse(t, true, log);
          return;
        } else if (verb === 'MAIL') {
          sock.write(
            o.requireTls && !secure ? '530 5.7.0 Must issue a STARTTLS command first\r\n' : '250 2.1.0 Sender ok\r\n',
          );
        } else if (verb === 'RSET') sock.write('250 2.0.0 Reset state\r\n');
        else if (verb === 'QUIT') return void sock.end('221 2.0.0 closing connection\r\n');
        else sock.write('502 5.5.1 Command not implemented\r\n');
      }
    };
    sock.on('data', onData);
    if (greet) sock.write('220 mx.test.invalid ESMTP test server\r\n');
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    sessions,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A port that was free a moment ago and has nothing listening: connections are refused. */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}
