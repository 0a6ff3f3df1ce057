/**
 * Generated mail logs for the tls-report benchmark (bench/tls-report.ts) and the tests that hold the fast path to
 * the plain one on the same kind of log: sendmail and Postfix, thousands of peers, interleaved processes, and on
 * request a share of failed handshakes as scanners cause them.
 */
import fs from 'node:fs';
import { xorshift32 } from './xorshift.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const INBOUND_PEERS = 5000;
const OUTBOUND_PEERS = 500;
const VERSIONS = ['TLSv1.2', 'TLSv1.2', 'TLSv1.2', 'TLSv1.3', 'TLSv1.3', 'TLSv1', 'TLSv1.1'];
const CIPHERS = [
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'TLS_AES_256_GCM_SHA384',
  'ECDHE-RSA-AES256-SHA',
];
const VERIFY = ['NO', 'NO', 'NO', 'FAIL', 'OK'];

let rnd = xorshift32(2463534242); // reset by generateMaillog: the same data every run

/**
 * Real peers are stable: one MTA build, one TLS library, so mostly the same version, cipher and verify result.
 * Each peer gets a profile; one session in 20 deviates (a second MX, a library upgrade, a scanner).
 */
function profile(i: number): string {
  const r = rnd(20) === 0 ? rnd(1000) : i;
  return `version=${VERSIONS[r % VERSIONS.length]}, verify=${VERIFY[(r >> 3) % VERIFY.length]}, cipher=${CIPHERS[(r >> 5) % CIPHERS.length]}`;
}

function inboundPeer(i: number): string {
  return `mail${i}.sender${i % 97}.example [198.51.${(i >> 8) & 255}.${i & 255}]`;
}

interface Conversation {
  program: string;
  lines: string[];
  failed?: true;
}

const SCANNERS = 3000;
const PROBE_REASONS = [
  'wrong version number',
  'unsupported protocol',
  'no shared cipher',
  'version too low',
  'http request',
];

/**
 * A failed handshake as a public MX sees thousands a day: scanners (3,000 addresses) probing with SSLv3/TLSv1,
 * in the three forms the report joins: sendmail's "accept failed" with its OpenSSL detail line, sendmail's
 * outbound "connect failed" closed by the tls_server ruleset, and Postfix's SSL_accept error.
 */
function failure(n: number, pid: number, qid: string): Conversation {
  const s = rnd(SCANNERS);
  const reason = PROBE_REASONS[s % PROBE_REASONS.length]!;
  const kind = rnd(10);
  if (kind < 5) {
    const relay = `scan${s}.probe${s % 41}.example [203.0.${(s >> 8) & 255}.${s & 255}]`;
    return {
      program: `sm-mta[${pid}]`,
      failed: true,
      lines: [
        `STARTTLS=server, error: accept failed=0, reason=${reason}, SSL_error=1, errno=0, retry=-1, relay=${relay}`,
        `STARTTLS=server: ${pid}:error:1408A10B:SSL routines:ssl3_get_record:${reason}:s3_pkt.c:365:`,
      ],
    };
  }
  if (kind < 7) {
    const o = rnd(OUTBOUND_PEERS);
    const mx = `mx${o}.receiver${o % 53}.example`;
    return {
      program: `sm-mta[${pid}]`,
      failed: true,
      lines: [
        `STARTTLS=client, error: connect failed=-1, reason=${reason}, SSL_error=1, errno=0, retry=-1`,
        `${qid}: ruleset=tls_server, arg1=SOFTWARE, relay=${rnd(2) ? mx : ''}, reject=403 4.7.0 TLS handshake failed.`,
        `${qid}: to=<a@receiver${o % 53}.example>, delay=00:00:02, xdelay=00:00:01, mailer=esmtp, pri=120000, relay=${mx}. [203.0.113.${o & 255}], dsn=4.0.0, stat=Deferred: 403 4.7.0 TLS handshake failed.`,
      ],
    };
  }
  const peer = `unknown[198.18.${(s >> 8) & 255}.${s & 255}]`;
  return {
    program: `postfix/smtpd[${pid}]`,
    failed: true,
    lines: [
      `connect from ${peer}`,
      `SSL_accept error from ${peer}: -1`,
      `warning: TLS library problem: error:0A00010B:SSL routines::${reason}:ssl/record/ssl3_record.c:354:`,
      `lost connection after STARTTLS from ${peer}`,
      `disconnect from ${peer} ehlo=1 starttls=0/1 commands=1/2`,
    ],
  };
}

/**
 * One SMTP conversation as log lines (without the syslog prefix), sendmail or Postfix. `failShare` of them (in
 * percent) are failed handshakes (failure()); the benchmark's main log has a few of its own kind in the rest.
 */
function conversation(n: number, failShare: number): Conversation {
  const pid = 10000 + (n % 50000);
  const qid = `u4A${(n * 7919).toString(36).padStart(8, '0')}${pid}`;
  if (failShare > 0 && rnd(100) < failShare) return failure(n, pid, qid);
  const kind = rnd(100);
  if (kind < 55) {
    const i = rnd(INBOUND_PEERS);
    const relay = inboundPeer(i);
    const lines = [];
    if (rnd(200) === 0) {
      lines.push(
        `STARTTLS=server, error: accept failed=0, reason=unsupported protocol, SSL_error=1, errno=0, retry=-1, relay=${relay}`,
      );
      lines.push(
        `STARTTLS=server: ${pid}:error:1408A102:SSL routines:ssl3_get_client_hello:unsupported protocol:s3_srvr.c:1030:`,
      );
      return { program: `sm-mta[${pid}]`, lines };
    }
    lines.push(`STARTTLS=server, relay=${relay}, ${profile(i)}, bits=256/256`);
    lines.push(
      `${qid}: from=<user${n % 1000}@sender${i % 97}.example>, size=${1000 + rnd(90000)}, class=0, nrcpts=1, msgid=<${n}.${qid}@sender${i % 97}.example>, proto=ESMTPS, daemon=MTA, relay=${relay}`,
    );
    lines.push(
      `${qid}: to=<rcpt${n % 300}@example.jp>, delay=00:00:01, xdelay=00:00:00, mailer=local, pri=${30000 + rnd(90000)}, dsn=2.0.0, stat=Sent`,
    );
    return { program: `sm-mta[${pid}]`, lines };
  }
  if (kind < 75) {
    const o = rnd(OUTBOUND_PEERS);
    const mx = `mx${o}.receiver${o % 53}.example`;
    const lines = [];
    if (rnd(100) === 0) {
      lines.push(
        'STARTTLS=client, error: connect failed=-1, reason=unsupported protocol, SSL_error=1, errno=0, retry=-1',
      );
      lines.push(
        `${qid}: ruleset=tls_server, arg1=SOFTWARE, relay=${rnd(2) ? mx : ''}, reject=403 4.7.0 TLS handshake failed.`,
      );
      lines.push(
        `${qid}: to=<a@receiver${o % 53}.example>, delay=00:00:02, xdelay=00:00:01, mailer=esmtp, pri=120000, relay=${mx}. [203.0.113.${o & 255}], dsn=4.0.0, stat=Deferred: 403 4.7.0 TLS handshake failed.`,
      );
    } else {
      lines.push(`STARTTLS=client, relay=${mx}., ${profile(o)}, bits=128/128`);
      lines.push(
        `${qid}: to=<a@receiver${o % 53}.example>, delay=00:00:02, xdelay=00:00:01, mailer=esmtp, pri=120000, relay=${mx}. [203.0.113.${o & 255}], dsn=2.0.0, stat=Sent (ok ${n})`,
      );
    }
    return { program: `sm-mta[${pid}]`, lines };
  }
  // Postfix on the same host (a relay instance): a few more non-TLS lines per conversation, like the real thing.
  const i = rnd(INBOUND_PEERS);
  const peer = `mail${i}.sender${i % 97}.example[198.51.${(i >> 8) & 255}.${i & 255}]`;
  const pqid = (0x3f2a1c0d4b + n).toString(16).toUpperCase().slice(-10);
  return {
    program: `postfix/smtpd[${pid}]`,
    lines: [
      `connect from ${peer}`,
      `Anonymous TLS connection established from ${peer}: ${VERSIONS[i % VERSIONS.length]} with cipher ${CIPHERS[(i >> 5) % CIPHERS.length]} (256/256 bits)`,
      `${pqid}: client=${peer}`,
      `disconnect from ${peer} ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7`,
    ],
  };
}

/**
 * Writes about `mb` MiB (the same bytes for the same arguments); conversations interleave (8 in flight) like
 * concurrent processes do. `failShare`: percent of conversations that are failed handshakes (failure()).
 * Returns the lines holding "STARTTLS" (what `grep -c` counts) and how many of them belong to a failure.
 */
export function generateMaillog(file: string, mb: number, failShare = 0): { starttls: number; failedStarttls: number } {
  rnd = xorshift32(2463534242);
  let starttls = 0;
  let failedStarttls = 0;
  const fd = fs.openSync(file, 'w');
  const target = mb * 1024 * 1024;
  let written = 0;
  let n = 0;
  let t = Date.UTC(2024, 4, 10, 0, 0, 0);
  const active: Conversation[] = [];
  let parts: string[] = [];
  let size = 0;
  while (written + size < target) {
    while (active.length < 8) active.push(conversation(n++, failShare));
    const k = rnd(active.length);
    const c = active[k]!;
    t += 7;
    const d = new Date(t);
    const stamp = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${d.toISOString().slice(11, 19)}`;
    const line = `${stamp} mx1 ${c.program}: ${c.lines.shift()}\n`;
    parts.push(line);
    size += line.length;
    if (line.includes('STARTTLS')) {
      starttls++;
      if (c.failed) failedStarttls++;
    }
    if (c.lines.length === 0) active.splice(k, 1);
    if (size > 4 << 20) {
      fs.writeSync(fd, parts.join(''));
      written += size;
      parts = [];
      size = 0;
    }
  }
  fs.writeSync(fd, parts.join(''));
  fs.closeSync(fd);
  return { starttls, failedStarttls };
}
