/**
 * The plan format: one YAML file per upgrade. The step and check kinds contribute their own schemas (each kind
 * is one module), assembled here into discriminated unions on `type:`. `mta-upgrade schema` prints this as a
 * draft-07 JSON Schema (plans/mta-plan.schema.json) so editors complete and check plans.
 */
import { z } from 'zod';
import { absPath } from '../lib/zod-helpers.js';
import { stepModules } from '../steps/index.js';
import { checkModules } from '../checks/index.js';

const union = (mods: { schema: unknown }[]) =>
  z.discriminatedUnion('type', mods.map((m) => m.schema) as unknown as [z.ZodObject, ...z.ZodObject[]]);

export const Step = union(stepModules);
export const Check = union(checkModules);

export const VERSION_RE = /^\d+\.\d+(\.\d+){0,2}([-+_.][0-9A-Za-z._+-]*)?$/;

export const PlanSchema = z
  .object({
    name: z.string().min(1).describe('Short name of this upgrade, shown in reports and backups.'),
    description: z.string().optional(),
    mta: z.enum(['sendmail', 'postfix']).describe('The mail server this plan upgrades.'),
    version: z
      .string()
      .regex(VERSION_RE, 'a version like 8.15.2 or 8.17.1.9')
      .describe('Target version: 3 or 4 numeric parts, an optional vendor suffix.'),
    vars: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'variable names are letters, digits and _'), z.union([z.string(), z.number(), z.boolean()]))
      .default({})
      .describe('Variables for ${name} interpolation in every string; ${root} is the --root directory ("" without one).'),
    secrets: z.array(z.string()).default([]).describe('Names of vars whose values are redacted from logs and output.'),
    keep: z.number().int().positive().default(5).describe('How many backups `backups prune` keeps (pinned and the latest are always kept).'),
    binaries: z.array(absPath).default([]).describe('Installed programs to back up and restore (absolute paths).'),
    configs: z.array(absPath).default([]).describe('Configuration files and directories (trailing /) to back up and restore.'),
    steps: z.array(Step).default([]).describe('What the upgrade does, in order.'),
    checks: z.array(Check).default([]).describe('What must hold after the upgrade; required failures roll back.'),
  })
  .strict()
  .meta({ title: 'mta-upgrade plan', $id: 'https://mta-upgrade.invalid/mta-plan.schema.json' });

/** Steps and checks are typed by their own modules; here they are known only by their `type:`. */
export type PlanStep = { type: string } & Record<string, unknown>;
export type PlanCheck = { type: string; required?: boolean; name?: string } & Record<string, unknown>;
export type Plan = Omit<z.output<typeof PlanSchema>, 'steps' | 'checks'> & { steps: PlanStep[]; checks: PlanCheck[] };

/** A string that holds a `${name}` reference: the loader interpolates it before it validates the value. */
export const VAR_REF_PATTERN = '\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}';

export function jsonSchema(): unknown {
  return allowVarRefs(z.toJSONSchema(PlanSchema, { target: 'draft-7', io: 'input' }));
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
    if (k === 'properties' && isNode(v)) out[k] = Object.fromEntries(Object.entries(v).map(([name, s]) => [name, allowVarRefs(s, name)]));
    else if (isNode(v) || Array.isArray(v)) out[k] = allowVarRefs(v);
    else out[k] = v;
  }
  if (key === 'type' || !constrainedScalar(out)) return out;
  const { description, title, default: dflt, ...rest } = out;
  const ref = { type: 'string', pattern: VAR_REF_PATTERN };
  return { ...(title === undefined ? {} : { title }), ...(description === undefined ? {} : { description }), ...(dflt === undefined ? {} : { default: dflt }), anyOf: [rest, ref] };
}

function constrainedScalar(s: Node): boolean {
  const t = s['type'];
  if (t === 'number' || t === 'integer' || t === 'boolean') return true;
  if (t === 'string') return s['pattern'] !== undefined || s['enum'] !== undefined || s['const'] !== undefined || s['format'] !== undefined;
  return t === undefined && (s['enum'] !== undefined || s['const'] !== undefined);
}
