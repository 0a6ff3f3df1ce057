/**
 * The JSON Schema side of src/plan/features.ts. In draft-07 a configure step cannot look up at the plan's `mta:`,
 * so the plan gets one `if mta is X then every configure step's features match X's schema` per MTA (allOf):
 * an editor then completes and checks postfix features in a postfix plan and sendmail's in a sendmail plan, and
 * still rejects a key neither knows. The step's own `features` is only "an object".
 */
import type * as z from 'zod';
import { MTAS, featuresSchemaFor } from '../mta/features.js';

type Node = Record<string, unknown>;

/** `plan` (already converted) with the per-MTA features rules; `convert` turns one features schema into JSON. */
export function withFeaturesByMta(plan: Node, convert: (schema: z.ZodType) => Node): Node {
  const rules = MTAS.map((mta) => ({
    if: { type: 'object', properties: { mta: { type: 'string', const: mta } }, required: ['mta'] },
    then: {
      type: 'object',
      properties: {
        steps: {
          type: 'array',
          items: {
            if: { type: 'object', properties: { type: { type: 'string', const: 'configure' } }, required: ['type'] },
            then: { type: 'object', properties: { features: convert(featuresSchemaFor(mta)!) } },
          },
        },
      },
    },
  }));
  return { ...plan, allOf: [...((plan['allOf'] as unknown[] | undefined) ?? []), ...rules] };
}
