/**
 * Mail is not configuration: a plan listing a mail queue (or a path in one, or a directory holding one) under
 * binaries: or configs: is refused at load time, at the entry's line, with the reason; queue directories read
 * from the MTA's configuration are refused the same way through queueConflicts(plan, extra).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parsePlan } from '../src/plan/load.js';
import { MtaError } from '../src/lib/errors.js';
import { queueConflicts, queueProblem } from '../src/plan/queues.js';
import { cli } from './helpers/cli.js';

const plan = (binaries: string[], configs: string[]) => `name: q
mta: sendmail
version: 8.17.1.9
binaries:
${binaries.map((b) => `  - ${b}\n`).join('') || '  []\n'}configs:
${configs.map((c) => `  - ${c}\n`).join('') || '  []\n'}`;

const refusal = (text: string): string[] => {
  try {
    parsePlan(text, '/plans/q.yaml');
  } catch (e) {
    assert.ok(e instanceof MtaError, String(e));
    assert.equal(e.kind, 'plan-invalid');
    return e.details ?? [];
  }
  assert.fail('the plan was accepted');
};

test('each well-known queue, a path inside one, and a directory containing one are refused with the reason', () => {
  for (const [configs, queue, how] of [
    [['/etc/postfix/', '/var/spool/postfix/'], '/var/spool/postfix', 'is the mail queue'],
    [['/var/spool/mqueue'], '/var/spool/mqueue', 'is the mail queue'],
    [['/var/spool/clientmqueue/'], '/var/spool/clientmqueue', 'is the mail queue'],
    [['/var/spool/postfix/deferred/'], '/var/spool/postfix', 'is inside the mail queue'],
    [['/var/spool/mqueue/qfAB12345'], '/var/spool/mqueue', 'is inside the mail queue'],
    [['/var/spool/'], '/var/spool/postfix', 'contains the mail queue'],
  ] as const) {
    const lines = refusal(plan([], [...configs]));
    const hit = lines.find((l) => l.includes(how));
    assert.ok(hit, `${configs.join(',')}: ${lines.join('\n')}`);
    assert.ok(hit.includes(queue), hit);
    assert.match(hit, /restoring it from a backup would delete the mail received since the backup/);
    assert.match(hit, /^\/plans\/q\.yaml:\d+:\d+: configs\[\d\]: /);
  }
});

test("under binaries: too, at the entry's own line", () => {
  const lines = refusal(plan(['/usr/sbin/postfix', '/var/spool/postfix/public/pickup'], []));
  assert.equal(lines.length, 1);
  assert.match(
    lines[0]!,
    /^\/plans\/q\.yaml:6:5: binaries\[1\]: \/var\/spool\/postfix\/public\/pickup is inside the mail queue \/var\/spool\/postfix/,
  );
});

test('neighbours of a queue are fine: /var/spool/postfix-old, /var/spool/mqueue.d, /etc/mail/', () => {
  assert.deepEqual(
    queueConflicts({
      binaries: ['/usr/sbin/sendmail'],
      configs: ['/etc/mail/', '/var/spool/postfix-old/', '/var/spool/mqueue.d'],
    }),
    [],
  );
  assert.doesNotThrow(() => parsePlan(plan(['/usr/sbin/sendmail'], ['/etc/mail/']), '/plans/q.yaml'));
});

test('a queue_directory read from the MTA configuration is refused like the known ones', () => {
  const p = { binaries: [], configs: ['/etc/postfix/', '/srv/mailq/'] };
  assert.deepEqual(queueConflicts(p), []);
  const c = queueConflicts(p, ['/srv/mailq']);
  assert.deepEqual(c, [{ list: 'configs', index: 1, entry: '/srv/mailq/', queue: '/srv/mailq' }]);
  assert.match(queueProblem(c[0]!), /^\/srv\/mailq\/ is the mail queue \/srv\/mailq: mail is not configuration/);
});

test('mta-upgrade validate refuses such a plan with exit 2 and says why', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mta-queues-'));
  t.after(() => fs.rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'queue.yaml');
  await fs.writeFile(file, plan(['/usr/sbin/sendmail'], ['/etc/mail/', '/var/spool/mqueue/']), { mode: 0o600 });
  const r = await cli(['validate', file]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /configs\[1\]: \/var\/spool\/mqueue\/ is the mail queue \/var\/spool\/mqueue: mail is not configuration; restoring it from a backup would delete the mail received since the backup/,
  );
});
