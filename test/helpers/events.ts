/**
 * Every event the tests' CLI runs emit, checked against the shipped contract (schemas/events.schema.json) when
 * the test file ends. In-process runs record through recordEvent(); child processes append to the file named by
 * MTA_UPGRADE_EVENT_LOG (set here for the whole test process), which makeIo writes in every output mode.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { stampEvent } from '../../src/commands/io.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// Set from outside (to gather the events of a whole suite run), the file is kept; else one per test process.
const GIVEN = process.env['MTA_UPGRADE_EVENT_LOG'];
export const EVENT_LOG = GIVEN || path.join(os.tmpdir(), `mta-events-${process.pid}.jsonl`);
process.env['MTA_UPGRADE_EVENT_LOG'] = EVENT_LOG;

/** For in-process runs: stamp as makeIo does and log as makeIo does. Returns the stamped event. */
export function recordEvent(type: string, data: Record<string, unknown>): Record<string, unknown> {
  const e = stampEvent(type, data);
  fs.appendFileSync(EVENT_LOG, JSON.stringify({ argv: ['(in-process)'], event: e }) + '\n');
  return e;
}

export interface LoggedEvent {
  argv: string[];
  event: Record<string, unknown>;
}

export function readEventLog(file = EVENT_LOG, from = 0): { events: LoggedEvent[]; end: number } {
  let text = '';
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { events: [], end: 0 };
  }
  return {
    events: text
      .slice(from)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LoggedEvent),
    end: text.length,
  };
}

/** A draft-07 validator for the events' schema (ajv's default dialect is draft-07). */
export function eventValidator() {
  const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
  return ajv.compile(JSON.parse(fs.readFileSync(path.join(REPO, 'schemas/events.schema.json'), 'utf8')));
}

/** Throws naming every event that does not match the schema. */
export function assertEventsValid(events: LoggedEvent[]): void {
  const validate = eventValidator();
  const bad: string[] = [];
  for (const { argv, event } of events) {
    if (!validate(event))
      bad.push(
        `${argv.join(' ')}: ${JSON.stringify(event).slice(0, 300)}\n    ${JSON.stringify(validate.errors?.slice(0, 3))}`,
      );
  }
  assert.deepEqual(bad, [], `${bad.length} of ${events.length} events do not match schemas/events.schema.json`);
}

after(() => {
  const { events } = readEventLog();
  if (!GIVEN) fs.rmSync(EVENT_LOG, { force: true });
  assertEventsValid(events);
});
