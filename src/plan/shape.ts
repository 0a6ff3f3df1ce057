/**
 * Walking the zod schema along a data path, for "did you mean": which keys an object there allows, and which
 * `type:` values a discriminated union there accepts. Uses zod 4's public `def` of each schema.
 */
import type * as z from 'zod';
import type { PathKey } from './interpolate.js';

type AnyDef = { type: string; [k: string]: unknown };
const def = (s: unknown): AnyDef => (s as { _zod: { def: AnyDef } })._zod.def;

/** Unwrap optional/default/pipe/etc. and pick the union member matching the data's discriminator. */
function settle(schema: unknown, data: unknown): unknown {
  for (let i = 0; i < 20; i++) {
    const d = def(schema);
    if (
      d.type === 'optional' ||
      d.type === 'default' ||
      d.type === 'nullable' ||
      d.type === 'prefault' ||
      d.type === 'readonly'
    )
      schema = d['innerType'];
    else if (d.type === 'pipe') schema = d['in'];
    else if (d.type === 'union' && typeof d['discriminator'] === 'string' && data && typeof data === 'object') {
      const want = (data as Record<string, unknown>)[d['discriminator'] as string];
      const match = (d['options'] as unknown[]).find((o) => literalOf(o, d['discriminator'] as string) === want);
      if (!match) return schema;
      schema = match;
    } else return schema;
  }
  return schema;
}

function literalOf(obj: unknown, key: string): unknown {
  const shape = (def(obj)['shape'] ?? {}) as Record<string, unknown>;
  const lit = shape[key];
  if (!lit) return undefined;
  const values = def(lit)['values'] as unknown[] | undefined;
  return values?.[0];
}

function at(schema: z.ZodType, path: PathKey[], data: unknown): { schema: unknown; data: unknown } {
  let s: unknown = schema;
  let v = data;
  for (const key of path) {
    s = settle(s, v);
    const d = def(s);
    if (d.type === 'object') s = (d['shape'] as Record<string, unknown>)[String(key)];
    else if (d.type === 'array') s = d['element'];
    else if (d.type === 'record') s = d['valueType'];
    else return { schema: undefined, data: undefined };
    if (!s) return { schema: undefined, data: undefined };
    v = v && typeof v === 'object' ? (v as Record<string | number, unknown>)[key] : undefined;
  }
  return { schema: s, data: v };
}

export function allowedKeys(schema: z.ZodType, path: PathKey[], data: unknown): string[] {
  const found = at(schema, path, data);
  if (!found.schema) return [];
  const s = settle(found.schema, found.data);
  const d = def(s);
  return d.type === 'object' ? Object.keys(d['shape'] as object) : [];
}

export function discriminatorChoices(schema: z.ZodType, path: PathKey[], data: unknown): string[] {
  const found = at(schema, path, data);
  if (!found.schema) return [];
  let s: unknown = found.schema;
  while (['optional', 'default', 'pipe'].includes(def(s).type)) s = def(s)['innerType'] ?? def(s)['in'];
  const d = def(s);
  if (d.type !== 'union' || typeof d['discriminator'] !== 'string') return [];
  return (d['options'] as unknown[]).map((o) => String(literalOf(o, d['discriminator'] as string)));
}
