/**
 * Loading a plan: read (refusing an unsafe file when root), parse YAML, interpolate ${vars}, validate with zod,
 * and report every problem at once as `file:line:col: path: what is wrong` (exit 2, nothing run).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { LineCounter, parseDocument, isAlias, isCollection, isPair, type Document, type Node } from 'yaml';
import type * as z from 'zod';
import { MtaError } from '../lib/errors.js';
import { PlanSchema, type Plan } from './schema.js';
import { interpolateTree, resolveVars, type PathKey } from './interpolate.js';
import { closest } from '../lib/did-you-mean.js';
import { locate, formatPath } from './locate.js';
import { allowedKeys, discriminatorChoices } from './shape.js';
import { featuresScope } from './features.js';
import { queueConflicts, queueProblem } from './queues.js';
import { msg } from '../messages.js';
import { isSecretName } from '../lib/redact.js';

export interface LoadedPlan {
  plan: Plan;
  /** Plan variables after interpolation, with `root`. */
  vars: Record<string, string>;
  file: string;
  /** sha256 of the file as read: recorded in backups and journals. */
  hash: string;
  /** The file's text as validated: the run keeps this copy, not a later re-read. */
  text: string;
  /** The --var overrides it was loaded with (recorded so a rollback reloads the plan the same way). */
  overrides: Record<string, string>;
  /** Names of the secret vars (`secret: true` or listed under `secrets:`). */
  secretVars: string[];
  /** Values to redact everywhere: the secret vars' and those of `env:` keys that look secret (src/lib/redact.ts). */
  secretValues: string[];
}

export interface LoadOptions {
  /** --root ('' or undefined for none). */
  root?: string;
  /** --var NAME=VALUE overrides: each must name a variable the plan declares (a typo is an error, not a no-op). */
  overrides?: Record<string, string>;
  /** Refuse files writable by group/others or owned by someone else when running as root (default true). */
  strictModes?: boolean;
}

export async function loadPlan(file: string, opts: LoadOptions = {}): Promise<LoadedPlan> {
  const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new MtaError('not-found', msg.planUnreadable(file, e.code === 'ENOENT' ? 'no such file' : e.message));
  });
  if (opts.strictModes !== false) await checkPlanModes(file);
  return parsePlan(text, file, opts);
}

/**
 * Like OpenSSH's StrictModes: a plan runs commands as root, so only root (or the sudo caller) may write it, nor
 * any directory above it up to / (whoever can write a parent can swap the file). A directory with the sticky
 * bit (/tmp) lets others add names but not replace ours, so it passes. Symlinks are resolved first: the real
 * path's parents are the ones that matter.
 */
export async function checkPlanModes(file: string, uid = process.getuid?.()): Promise<void> {
  if (uid !== 0) return;
  const real = await fs.realpath(file);
  const st = await fs.stat(real);
  const sudoUid = Number(process.env['SUDO_UID'] ?? NaN);
  const problems: string[] = [];
  if (st.mode & 0o022) problems.push(msg.planWritable(real, (st.mode & 0o777).toString(8)));
  if (st.uid !== 0 && st.uid !== sudoUid) problems.push(msg.planForeignOwner(real, st.uid));
  for (let dir = path.dirname(real); ; dir = path.dirname(dir)) {
    const d = await fs.stat(dir);
    if (d.mode & 0o022 && !(d.mode & 0o1000)) problems.push(msg.planDirWritable(dir, (d.mode & 0o7777).toString(8)));
    if (d.uid !== 0 && d.uid !== sudoUid) problems.push(msg.planForeignOwner(dir, d.uid));
    if (dir === path.dirname(dir)) break;
  }
  if (problems.length) throw new MtaError('refused', msg.planUnsafe(file), problems);
}

export function parsePlan(text: string, file: string, opts: LoadOptions = {}): LoadedPlan {
  const rel = path.relative(process.cwd(), file);
  const shown = rel && !rel.startsWith('..') ? rel : file;
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: true, uniqueKeys: true });
  const problems: string[] = [];
  for (const e of doc.errors) {
    const p = e.linePos?.[0];
    problems.push(`${shown}:${p?.line ?? 1}:${p?.col ?? 1}: YAML syntax: ${e.message.split('\n')[0]}`);
  }
  if (problems.length) throw new MtaError('plan-invalid', msg.planInvalid(shown, problems.length), problems);

  const raw = toJS(doc, lc, shown);
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new MtaError('plan-invalid', msg.planInvalid(shown, 1), [
      `${shown}:1:1: the plan must be a YAML mapping (name:, mta:, steps: …)`,
    ]);
  }
  const root = (opts.root ?? '').replace(/\/+$/, '');
  const rawVars = (raw as Record<string, unknown>)['vars'];
  const declared =
    rawVars && typeof rawVars === 'object' && !Array.isArray(rawVars) ? (rawVars as Record<string, unknown>) : {};
  const overrideProblems: string[] = [];
  for (const name of Object.keys(opts.overrides ?? {})) {
    if (!Object.hasOwn(declared, name)) {
      const hint = closest(name, Object.keys(declared));
      overrideProblems.push(
        `--var ${name}: the plan declares no such variable${hint ? ` (did you mean '${hint}'?)` : ''}; declared: ${Object.keys(declared).join(', ') || 'none'}`,
      );
    }
  }
  if (overrideProblems.length) throw new MtaError('usage', `${shown}: bad --var`, overrideProblems);
  const secretVars = Object.keys(declared).filter((k) => isSecretVar(declared[k]));
  const varsIn: Record<string, unknown> = {
    ...Object.fromEntries(Object.entries(declared).map(([k, v]) => [k, varValue(v)])),
    ...(opts.overrides ?? {}),
  };
  const { vars, problems: varProblems } = resolveVars(varsIn, { root });
  const located: { pos: { line: number; col: number }; text: string }[] = [];
  const at = (p: PathKey[], message: string, key?: string) =>
    located.push({ pos: locate(doc, lc, p, { key }), text: `${formatPath(key ? [...p, key] : p)}: ${message}` });

  const interpolated = interpolateTree(raw, vars, varProblems);
  for (const vp of varProblems) at(vp.path, vp.message);

  const result = PlanSchema.safeParse(interpolated);
  // A string with a bad ${reference} is reported once, not again as "not an absolute path".
  const reported = new Set(varProblems.map((v) => formatPath(v.path)));
  if (!result.success)
    for (const issue of result.error.issues)
      if (!reported.has(formatPath(issue.path as PathKey[]))) describeIssue(issue, interpolated, at);
  if (result.success) for (const c of queueConflicts(result.data)) at([c.list, c.index], queueProblem(c));

  if (located.length) {
    located.sort((a, b) => a.pos.line - b.pos.line || a.pos.col - b.pos.col);
    const lines = located.map((l) => `${shown}:${l.pos.line}:${l.pos.col}: ${l.text}`);
    throw new MtaError('plan-invalid', msg.planInvalid(shown, lines.length), [...new Set(lines)]);
  }
  const plan = result.data as Plan;
  const allSecret = [...new Set([...secretVars, ...plan.secrets])];
  const secretValues = [...allSecret.map((n) => vars[n] ?? ''), ...secretEnvValues(plan)].filter((v) => v !== '');
  return {
    plan,
    vars,
    file,
    text,
    overrides: opts.overrides ?? {},
    secretVars: allSecret,
    secretValues,
    hash: createHash('sha256').update(text).digest('hex'),
  };
}

const isVarObject = (v: unknown): v is { value: unknown; secret?: unknown } =>
  !!v && typeof v === 'object' && !Array.isArray(v) && 'value' in v;
const isSecretVar = (v: unknown): boolean => isVarObject(v) && v.secret !== false;
const varValue = (v: unknown): unknown => (isVarObject(v) ? v.value : v);

/** Values of `env:` entries (of any step or check) whose key looks like a secret: DB_PASSWORD, API_TOKEN, … */
function secretEnvValues(plan: Plan): string[] {
  const out: string[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== 'object') return;
    for (const [k, x] of Object.entries(v)) {
      if (k === 'env' && x && typeof x === 'object' && !Array.isArray(x)) {
        for (const [name, value] of Object.entries(x))
          if (isSecretName(name) && typeof value === 'string') out.push(value);
      } else walk(x);
    }
  };
  walk([plan.steps, plan.checks]);
  return out;
}

/** A billion-laughs plan expands an alias millions of times; 1000 is far more than any real plan uses. */
export const MAX_ALIAS_COUNT = 1000;

/**
 * The document as plain data. An undefined alias or an alias bomb throws inside yaml's toJS; that becomes a
 * located plan error: the deepest node that still fails on its own is where the problem is.
 */
function toJS(doc: Document, lc: LineCounter, shown: string): unknown {
  const opts = { maxAliasCount: MAX_ALIAS_COUNT };
  try {
    return doc.toJS(opts) as unknown;
  } catch (e) {
    const fails = (n: unknown): boolean => {
      try {
        (n as Node).toJS(doc, opts);
        return false;
      } catch {
        return true;
      }
    };
    const culprit = (n: unknown): unknown => {
      if (isCollection(n))
        for (const it of n.items as unknown[]) {
          const v = isPair(it) ? it.value : it;
          if (v && fails(v)) return culprit(v);
        }
      return n;
    };
    const node = doc.contents ? culprit(doc.contents) : undefined;
    const range = (node as Node | undefined)?.range;
    const p = range ? lc.linePos(range[0]) : { line: 1, col: 1 };
    const what = isAlias(node) ? `alias *${node.source}` : 'here';
    const why = /^Unresolved alias/.test((e as Error).message)
      ? 'refers to an anchor that is not defined before it'
      : /alias count/i.test((e as Error).message)
        ? `expands too many aliases (more than ${MAX_ALIAS_COUNT}: a billion-laughs document?)`
        : (e as Error).message;
    throw new MtaError('plan-invalid', msg.planInvalid(shown, 1), [
      `${shown}:${p.line}:${p.col}: YAML: ${what} ${why}`,
    ]);
  }
}

type At = (p: PathKey[], message: string, key?: string) => void;

function describeIssue(issue: z.core.$ZodIssue, data: unknown, at: At): void {
  const p = issue.path as PathKey[];
  if (issue.code === 'unrecognized_keys') {
    // Inside a configure step's features the plan's MTA decides which keys exist (src/plan/features.ts).
    const scope = featuresScope(data, p) ?? { schema: PlanSchema, path: p, data };
    const allowed = allowedKeys(scope.schema, scope.path, scope.data);
    for (const key of issue.keys) {
      const hint = closest(key, allowed);
      at(
        p,
        `unknown key${hint ? ` (did you mean '${hint}'?)` : allowed.length ? `; allowed: ${allowed.join(', ')}` : ''}`,
        key,
      );
    }
    return;
  }
  const value = valueAt(data, p);
  if (issue.code === 'invalid_union') {
    // zod reports a bad discriminator at .type, or at the item itself when the value is not an object
    const item = p[p.length - 1] === 'type' ? p.slice(0, -1) : p;
    const choices = discriminatorChoices(PlanSchema, item, data);
    const obj = valueAt(data, item);
    if (choices.length && obj && typeof obj === 'object' && !Array.isArray(obj)) {
      const type = (obj as Record<string, unknown>)['type'];
      if (type === undefined) return at(item, `missing 'type:'; one of: ${choices.join(', ')}`);
      const hint = closest(String(type), choices);
      return at(
        [...item, 'type'],
        `unknown type '${String(type)}'${hint ? ` (did you mean '${hint}'?)` : ''}; one of: ${choices.join(', ')}`,
      );
    }
    if (choices.length) return at(item, `expected a mapping with 'type:' (one of: ${choices.join(', ')})`);
  }
  if (
    issue.code === 'invalid_type' &&
    issue.expected === 'object' &&
    discriminatorChoices(PlanSchema, p, data).length
  ) {
    return at(p, `expected a mapping with 'type:' (one of: ${discriminatorChoices(PlanSchema, p, data).join(', ')})`);
  }
  if (issue.code === 'invalid_key') {
    const inner = issue.issues[0];
    return at(p.slice(0, -1), inner ? inner.message : issue.message, String(p[p.length - 1]));
  }
  if (
    value === undefined &&
    p.length &&
    typeof p[p.length - 1] === 'string' &&
    (issue.code === 'invalid_type' || issue.code === 'invalid_value')
  ) {
    const last = String(p[p.length - 1]);
    const what = issue.code === 'invalid_value' ? `one of: ${issue.values.map(String).join(', ')}` : issue.expected;
    return at(p.slice(0, -1), `missing required key '${last}' (${what})`);
  }
  if (issue.code === 'invalid_value' && typeof value === 'string') {
    const options = issue.values.map(String);
    const hint = closest(value, options);
    return at(p, `'${value}' is not one of: ${options.join(', ')}${hint ? ` (did you mean '${hint}'?)` : ''}`);
  }
  at(p, issue.message.replace(/^Invalid input: /, ''));
}

function valueAt(data: unknown, p: PathKey[]): unknown {
  let v = data;
  for (const k of p) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[k];
  }
  return v;
}
