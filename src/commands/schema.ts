/** `mta-upgrade schema`: the draft-07 JSON Schema of plans (shipped as plans/mta-plan.schema.json). */
import { jsonSchema } from '../plan/schema.js';
import type { GlobalOptions, Io } from './types.js';

export async function schemaCommand(_g: GlobalOptions, io: Io): Promise<void> {
  io.stdout.write(JSON.stringify(jsonSchema(), null, 2) + '\n');
}
