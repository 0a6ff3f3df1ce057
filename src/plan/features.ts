/**
 * The configure step's `features:` belong to the plan's MTA (sendmail's site.config.m4 knobs, postfix's make
 * makefiles options), which the step schema cannot see: PlanSchema checks them here, reporting at
 * `steps[i].features.…` so the loader locates them (file:line:col) like any other problem, and the loader asks
 * `featuresScope` for the right schema when it lists the allowed keys.
 */
import type * as z from 'zod';
import { featuresSchemaFor } from '../mta/features.js';
import type { PathKey } from './interpolate.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Each configure step's features (as an object; a non-object is the step schema's to report) with its index. */
function configureFeatures(plan: unknown): { index: number; features: Obj }[] {
  const steps = isObj(plan) ? plan['steps'] : undefined;
  if (!Array.isArray(steps)) return [];
  return steps.flatMap((s, index) =>
    isObj(s) && s['type'] === 'configure' && isObj(s['features']) ? [{ index, features: s['features'] }] : [],
  );
}

/** Issues of every configure step's features against the plan's MTA, with paths from the plan's top. */
export function featuresIssues(plan: unknown): z.core.$ZodIssue[] {
  const schema = featuresSchemaFor(isObj(plan) ? plan['mta'] : undefined);
  if (!schema) return [];
  const out: z.core.$ZodIssue[] = [];
  for (const { index, features } of configureFeatures(plan)) {
    const r = schema.safeParse(features);
    if (!r.success)
      for (const issue of r.error.issues) out.push({ ...issue, path: ['steps', index, 'features', ...issue.path] });
  }
  return out;
}

/**
 * For a path inside a configure step's features: the MTA's features schema, the path and the data below
 * `features`. Undefined elsewhere (the plan schema itself describes everything else).
 */
export function featuresScope(
  plan: unknown,
  p: PathKey[],
): { schema: z.ZodType; path: PathKey[]; data: unknown } | undefined {
  if (p.length < 3 || p[0] !== 'steps' || p[2] !== 'features' || !isObj(plan)) return undefined;
  const schema = featuresSchemaFor(plan['mta']);
  const step = Array.isArray(plan['steps']) ? plan['steps'][Number(p[1])] : undefined;
  if (!schema || !isObj(step) || step['type'] !== 'configure') return undefined;
  return { schema, path: p.slice(3), data: step['features'] };
}
