/** Every check kind, by its `type:`. Adding a kind = one module + one line here. */
import type { CheckModule } from './types.js';
import { commandCheck } from './command.js';
import { fileCheck } from './file.js';
import { lddCheck } from './ldd.js';
import { versionCheck } from './version.js';
import { smtpTlsCheck } from './smtp-tls.js';
import { daemonCheck } from './daemon.js';
import { tlsLogCheck } from './tls-log.js';

export const checkModules: CheckModule<any>[] = [
  lddCheck,
  versionCheck,
  smtpTlsCheck,
  daemonCheck,
  fileCheck,
  commandCheck,
  tlsLogCheck,
];

export function checkModule(type: string): CheckModule<any> {
  const m = checkModules.find((c) => c.type === type);
  if (!m) throw new Error(`unknown check kind ${type}`);
  return m;
}
