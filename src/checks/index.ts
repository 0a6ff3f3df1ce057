/** Every check kind, by its `type:`. Adding a kind = one module + one line here. */
import type { CheckModule } from './types.js';
import { commandCheck } from './command.js';
import { fileCheck } from './file.js';

export const checkModules: CheckModule<any>[] = [commandCheck, fileCheck];

export function checkModule(type: string): CheckModule<any> {
  const m = checkModules.find((c) => c.type === type);
  if (!m) throw new Error(`unknown check kind ${type}`);
  return m;
}
