/**
 * The plan format: one YAML file per upgrade. The step and check kinds contribute their own schemas (each kind
 * is one module), assembled here into discriminated unions on `type:`. `mta-upgrade schema` prints this as a
 * draft-07 JSON Schema (plans/mta-plan.schema.json) so editors complete and check plans.
 */
import path from 'node:path';
import * as z from 'zod';
import { absPath } from '../lib/zod-helpers.js';
import { stepModules } from '../steps/index.js';
import { checkModules } from '../checks/index.js';
import { featuresIssues } from './features.js';
import { withFeaturesByMta } from './features-json.js';
import { MTAS } from '../mta/features.js';

const union = (mods: { schema: unknown }[]) =>
  z.discriminatedUnion('type', mods.map((m) => m.schema) as unknown as [z.ZodObject, ...z.ZodObject[]]);

export const Step = union(stepModules);
export const Check = union(checkModules);

const scalar = z.union([z.string(), z.number(), z.boolean()]);
/** A var whose value never reaches the journal, the logs, --json or the terminal in clear (docs/plan-format.md). */
export const SecretVar = z.object({ value: scalar, secret: z.boolean().default(true) }).strict();

export const VERSION_RE = /^\d+\.\d+(\.\d+){0,2}([-+_.][0-9A-Za-z._+-]*)?$/;

export const PlanSchema = z
  .object({
    name: z.string().min(1).describe('Short name of this upgrade, shown in reports and backups.'),
    description: z.string().optional(),
    mta: z.enum(MTAS).describe('The mail server this plan upgrades.'),
    version: z
      .string()
      .regex(VERSION_RE, 'a version like 8.15.2 or 8.17.1.9')
      .describe('Target version: 3 or 4 numeric parts, an optional vendor suffix.'),
    vars: z
      .record(
        z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'variable names are letters, digits and _'),
        z.union([scalar, SecretVar]),
      )
      .default({})
      .describe(
        'Variables for ${name} interpolation in every string; ${root} is the --root directory ("" without one). A secret one is written {value: …, secret: true}.',
      ),
    secrets: z
      .array(z.string())
      .default([])
      .describe('Names of vars whose values are redacted from logs and output (same as secret: true on the var).'),
    keep: z
      .number()
      .int()
      .positive()
      .default(5)
      .describe('How many backups `backups prune` keeps (pinned and the latest are always kept).'),
    binaries: z.array(absPath).default([]).describe('Installed programs to back up and restore (absolute paths).'),
    configs: z
      .array(absPath)
      .default([])
      .describe('Configuration files and directories (trailing /) to back up and restore.'),
    steps: z.array(Step).default([]).describe('What the upgrade does, in order.'),
    checks: z.array(Check).default([]).describe('What must hold after the upgrade; required failures roll back.'),
  })
  .strict()
  .superRefine((p, ctx) => {
    for (const issue of backedUpPathProblems(p.binaries, p.configs)) ctx.addIssue({ code: 'custom', ...issue });
  })
  // The configure step's features, by the plan's mta: (src/plan/features.ts). Runs even when other parts of the
  // plan have problems, so that one `validate` lists them all; featuresIssues reads the data defensively.
  .superRefine(
    (p, ctx) => {
      for (const issue of featuresIssues(p)) ctx.addIssue({ ...issue });
    },
    { when: () => true },
  )
  .meta({ title: 'mta-upgrade plan', $id: 'https://mta-upgrade.invalid/mta-plan.schema.json' });

/** Steps and checks are typed by their own modules; here they are known only by their `type:`. */
export type PlanStep = { type: string } & Record<string, unknown>;
export type PlanCheck = { type: string; required?: boolean; name?: string } & Record<string, unknown>;
export type Plan = Omit<z.output<typeof PlanSchema>, 'steps' | 'checks'> & { steps: PlanStep[]; checks: PlanCheck[] };

/** A string that holds a `${name}` reference: the loader interpolates it before it validates the value. */
export const VAR_REF_PATTERN = '\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}';

/**
 * The backed-up paths must name distinct, disjoint trees: `/` would back up (and restore over) the whole system;
 * `/etc/mail`, `/etc/mail/` and `/etc//mail/` are one path; a path under another listed one would be archived
 * twice and restored twice. All are refused (not merged), so the plan says exactly what a rollback puts back.
 */
export function backedUpPathProblems(
  binaries: string[],
  configs: string[],
): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  const seen: { key: string; where: string }[] = [];
  const all = [
    ...binaries.map((p, i) => ['binaries', i, p] as const),
    ...configs.map((p, i) => ['configs', i, p] as const),
  ];
  for (const [list, i, p] of all) {
    const key = path.posix.normalize(p).replace(/\/+$/, '');
    if (key === '' || key === '/') {
      out.push({
        path: [list, i],
        message: 'the root directory cannot be backed up or restored as a whole; list the paths the upgrade changes',
      });
      continue;
    }
    const where = `${list}[${i}] ${p}`;
    for (const s of seen) {
      if (s.key === key) out.push({ path: [list, i], message: `same path as ${s.where}; list it once` });
      else if (key.startsWith(s.key + '/'))
        out.push({ path: [list, i], message: `lies under ${s.where}, which is already backed up whole; list it once` });
      else if (s.key.startsWith(key + '/')) out.push({ path: [list, i], message: `contains ${s.where}; list it once` });
      else continue;
      break;
    }
    seen.push({ key, where });
  }
  return out;
}

export function jsonSchema(): unknown {
  const convert = (schema: z.ZodType) =>
    allowVarRefs(z.toJSONSchema(schema, { target: 'draft-7', io: 'input' })) as Node;
  // The features rules are added after allowVarRefs: their `mta` condition must match the literal value only.
  return withFeaturesByMta(convert(PlanSchema), (schema) => {
    const { $schema: _drop, ...rest } = convert(schema);
    return rest;
  });
}

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The plan is validated after `${var}` interpolation, so `sha256: '${tarball_sha256}'` and `port: ${smtp_port}`
 * are valid plans. An editor checks the file as written: every constrained scalar (a pattern, an enum, a number,
 * a boolean) also accepts a string with a `${name}` in it. The `type:` discriminators stay exact.
 */
function allowVarRefs(schema: unknown, key?: string): unknown {
  if (Array.isArray(schema)) return schema.map((s) => allowVarRefs(s));
  if (!isNode(schema)) return schema;
  const out: Node = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k === 'properties' && isNode(v))
      out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, allowVarRefs(s, name)]));
    else if (isNode(v) || Array.isArray(v)) out[k] = allowVarRefs(v);
    else out[k] = v;
  }
  if (key === 'type' || !constrainedScalar(out)) return out;
  const { description, title, default: dflt, ...rest } = out;
  const ref = { type: 'string', pattern: VAR_REF_PATTERN };
  return {
    ...(title === undefined ? {} : { title }),
    ...(description === undefined ? {} : { description }),
    ...(dflt === undefined ? {} : { default: dflt }),
    anyOf: [rest, ref],
  };
}

function constrainedScalar(s: Node): boolean {
  const t = s['type'];
  if (t === 'number' || t === 'integer' || t === 'boolean') return true;
  if (t === 'string')
    return (
      s['pattern'] !== undefined || s['enum'] !== undefined || s['const'] !== undefined || s['format'] !== undefined
    );
  return t === undefined && (s['enum'] !== undefined || s['const'] !== undefined);
}
