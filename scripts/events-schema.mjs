// Writes schemas/events.schema.json (draft-07) from the table below: the one place where the --json events'
// fields are declared. docs/events.md describes the same events for people; test/events.test.ts keeps the two in step.
// Run: node scripts/events-schema.mjs [OUT] (default schemas/events.schema.json)
import fs from 'node:fs';

const str = { type: 'string' };
const int = { type: 'integer' };
const num = { type: 'number' };
const bool = { type: 'boolean' };
const strs = { type: 'array', items: str };
const obj = { type: 'object' };
const maybe = (s) => ({ anyOf: [s, { type: 'null' }] });
const counts = { type: 'object', additionalProperties: int };

// type: [required fields, all declared fields]. Adding a field or an event keeps `schema` at 1; renaming or removing bumps it.
const EVENTS = {
  run: [
    ['state'],
    {
      id: str,
      plan: str,
      state: str,
      version: str,
      metrics: obj,
      durationMs: num,
      backup: maybe(str),
      changes: int,
      undone: int,
      needsRollback: bool,
      started: maybe(str),
      reason: maybe(str),
      rollbackBy: maybe(str),
    },
  ],
  recap: [
    ['backupPaths', 'replaceFiles', 'commands', 'checksPassing', 'checks', 'blockers'],
    {
      backupPaths: int,
      replaceFiles: int,
      commands: int,
      checksPassing: int,
      checks: int,
      blockers: {
        type: 'array',
        items: {
          type: 'object',
          required: ['step', 'kind', 'reason'],
          properties: { step: maybe(int), kind: str, reason: str },
          additionalProperties: false,
        },
      },
    },
  ],
  'rollback-plan': [['id', 'undo', 'restore'], { id: str, undo: strs, backup: maybe(str), restore: strs }],
  task: [
    ['index', 'title', 'state'],
    {
      index: int,
      title: str,
      state: { enum: ['started', 'completed', 'failed'] },
      note: maybe(str),
      durationMs: num,
      error: str,
    },
  ],
  output: [['index', 'line'], { index: int, line: str }],
  step: [['index', 'kind', 'title', 'lines'], { index: int, kind: str, title: str, lines: strs }],
  'backup-path': [['path', 'exists'], { path: str, exists: bool, kind: str, bytes: num, files: int }],
  check: [
    ['kind', 'name', 'required', 'status', 'summary'],
    {
      phase: { enum: ['preview', 'before', 'staged', 'after', 'after-rollback'] },
      run: str,
      index: int,
      kind: str,
      name: str,
      required: bool,
      status: { enum: ['pass', 'warn', 'fail'] },
      summary: str,
      details: strs,
      data: obj,
    },
  ],
  rollback: [
    ['id', 'state'],
    { id: str, state: { enum: ['started', 'complete', 'incomplete'] }, lines: strs, failures: strs },
  ],
  replaced: [['id', 'files'], { id: str, files: { type: 'array', items: obj } }],
  fleet: [
    ['check', 'ansibleExit', 'seconds', 'hosts'],
    { check: bool, ansibleExit: maybe(int), seconds: num, hosts: { type: 'array', items: obj } },
  ],
  'mx-inventory': [
    ['domain', 'implicit', 'port', 'inventory'],
    { domain: str, implicit: bool, port: int, inventory: str },
  ],
  hint: [['argv', 'text'], { argv: strs, text: str }],
  message: [['level', 'text'], { level: { enum: ['warn'] }, text: str }],
  error: [
    ['kind', 'message', 'details', 'exit'],
    {
      kind: {
        enum: [
          'usage',
          'plan-invalid',
          'not-found',
          'refused',
          'failed',
          'rollback-incomplete',
          'dns-failed',
          'blocked',
          'interrupted',
        ],
      },
      message: str,
      details: strs,
      exit: int,
    },
  ],
  valid: [['file', 'name', 'steps', 'checks', 'hash'], { file: str, name: str, steps: int, checks: int, hash: str }],
  lock: [
    ['alive'],
    { pid: int, started: str, command: str, controller: str, pidStart: str, boot: str, unreadable: str, alive: bool },
  ],
  process: [['run', 'pid', 'pgid', 'argv', 'leftover'], { run: str, pid: int, pgid: int, argv: strs, leftover: bool }],
  backup: [
    ['id', 'createdAt', 'plan', 'file', 'size', 'sha256'],
    {
      id: str,
      createdAt: str,
      plan: str,
      planHash: str,
      file: str,
      size: int,
      sha256: str,
      files: int,
      entries: int,
      bytes: int,
      verified: obj,
      pinned: bool,
      keep: int,
      host: str,
      toolVersion: str,
      runId: str,
      paths: { type: 'array' },
      skipped: strs,
      checks: {},
    },
  ],
  verify: [['id', 'ok', 'checked', 'problems'], { id: str, ok: bool, checked: int, problems: strs }],
  pinned: [['id'], { id: str }],
  prune: [['keep', 'deleted'], { keep: int, deleted: strs }],
  probe: [
    ['outcome', 'ok', 'host', 'port', 'durationMs'],
    {
      outcome: str,
      ok: bool,
      host: str,
      port: int,
      servername: str,
      banner: str,
      extensions: strs,
      starttls: bool,
      plaintextMail: obj,
      tls: obj,
      warnings: strs,
      durationMs: num,
      stage: str,
      message: str,
      code: str,
      alert: str,
      legacy: obj,
    },
  ],
  scan: [
    ['host', 'port', 'versions', 'durationMs'],
    {
      host: str,
      port: int,
      versions: {
        type: 'array',
        items: {
          type: 'object',
          required: ['version', 'accepted', 'note'],
          properties: { version: str, accepted: bool, note: str },
        },
      },
      best: obj,
      durationMs: num,
    },
  ],
  mx: [
    ['domain', 'implicit', 'minVersion', 'rows'],
    { domain: str, implicit: bool, minVersion: str, rows: { type: 'array', items: obj } },
  ],
  'tls-report': [
    ['sources', 'bytes', 'tlsLines', 'unrecognised', 'peers', 'summary'],
    {
      sources: { type: 'array', items: obj },
      since: str,
      bytes: int,
      tlsLines: int,
      unrecognised: int,
      unrecognisedSamples: strs,
      peers: {
        type: 'array',
        items: {
          type: 'object',
          required: ['direction', 'peer', 'addresses', 'sessions', 'versions', 'failures'],
          properties: {
            direction: { enum: ['inbound', 'outbound'] },
            peer: str,
            addresses: strs,
            sessions: int,
            versions: counts,
            ciphers: counts,
            verify: counts,
            failures: int,
            failureReasons: counts,
            firstSeen: str,
            lastSeen: str,
            lastVersion: str,
          },
          additionalProperties: false,
        },
      },
      summary: {
        type: 'object',
        required: ['peers', 'sessions', 'failures', 'versionShare', 'legacyPeers', 'failingPeers'],
        properties: {
          peers: int,
          sessions: int,
          failures: int,
          versionShare: obj,
          legacyPeers: { type: 'array', items: obj },
          failingPeers: { type: 'array', items: obj },
        },
        additionalProperties: false,
      },
    },
  ],
};

const common = {
  type: { enum: Object.keys(EVENTS) },
  time: { type: 'string', pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z$' },
  schema: { const: 1 },
};
const schema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://mta-upgrade.invalid/events.schema.json',
  title: 'mta-upgrade --json events (one JSON object per line)',
  description:
    'Every event has type, time (ISO 8601, UTC) and schema (this version: 1). Field names are camelCase. See docs/events.md.',
  type: 'object',
  required: ['type', 'time', 'schema'],
  properties: common,
  // camelCase at the top level of every event; maps (versions, ciphers, metrics, data) keep their own keys.
  propertyNames: { pattern: '^[a-z][a-zA-Z0-9]*$' },
  allOf: Object.entries(EVENTS).map(([type, [required, properties]]) => ({
    if: { properties: { type: { const: type } } },
    then: { required, properties: { ...common, ...properties }, additionalProperties: false },
  })),
};
const out = process.argv[2] ?? new URL('../schemas/events.schema.json', import.meta.url).pathname;
fs.writeFileSync(out, JSON.stringify(schema, null, 2) + '\n');
