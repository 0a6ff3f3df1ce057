/** Every step kind, by its `type:`. Adding a kind = one module + one line here. */
import type { StepModule } from './types.js';
import { commandStep } from './command.js';
import { sourceStep } from './source.js';
import { patchStep } from './patch.js';
import { configureStep } from './configure.js';
import { buildStep } from './build.js';
import { installStep } from './install.js';
import { serviceStep } from './service.js';
import { mailerConfStep } from './mailer-conf.js';

export const stepModules: StepModule<any>[] = [
  sourceStep,
  patchStep,
  configureStep,
  buildStep,
  installStep,
  mailerConfStep,
  serviceStep,
  commandStep,
];

export function stepModule(type: string): StepModule<any> {
  const m = stepModules.find((s) => s.type === type);
  if (!m) throw new Error(`unknown step kind ${type}`);
  return m;
}
