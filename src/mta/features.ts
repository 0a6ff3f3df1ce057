/**
 * Which `features:` schema a plan's configure step is checked against, by the plan's `mta:`. The step kinds are
 * shared by all MTAs, so the configure step itself takes its features loosely; the plan (src/plan/features.ts)
 * validates them here, where the MTA is known.
 */
import type * as z from 'zod';
import { featuresSchema as sendmailFeaturesSchema } from '../lib/site-config.js';
import { postfixFeaturesSchema } from './postfix/features.js';

export const MTAS = ['sendmail', 'postfix'] as const;
export type MtaName = (typeof MTAS)[number];

const SCHEMAS: Record<MtaName, z.ZodType> = { sendmail: sendmailFeaturesSchema, postfix: postfixFeaturesSchema };

/** The features schema of a plan's `mta:`, or undefined for a value that is not an MTA (reported elsewhere). */
export function featuresSchemaFor(mta: unknown): z.ZodType | undefined {
  return typeof mta === 'string' && Object.hasOwn(SCHEMAS, mta) ? SCHEMAS[mta as MtaName] : undefined;
}
