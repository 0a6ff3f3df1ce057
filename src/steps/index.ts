/** Every step kind, by its `type:`. Adding a kind = one module + one line here. */
import type { StepModule } from './types.js';
import { commandStep } from './command.js';

export const stepModules: StepModule<any>[] = [commandStep];

export function stepModule(type: string): StepModule<any> {
  const m = stepModules.find((s) => s.type === type);
  if (!m) throw new Error(`unknown step kind ${type}`);
  return m;
}
