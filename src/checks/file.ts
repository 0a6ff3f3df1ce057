/** `file` check: a path exists (or must not), with a mode, owner and sha256 when the plan gives them. */
import * as z from 'zod';
import { absPath } from '../lib/zod-helpers.js';
import { checkBase, type CheckContext, type CheckModule } from './types.js';

export const fileCheckSchema = z
  .object({
    type: z.literal('file'),
    ...checkBase,
    path: absPath,
    exists: z.boolean().default(true),
    mode: z
      .string()
      .regex(/^0?[0-7]{3,4}$/, 'an octal mode like 0644 or 2555')
      .optional(),
    owner: z.union([z.string(), z.number().int()]).optional().describe('User name or uid.'),
    group: z.union([z.string(), z.number().int()]).optional().describe('Group name or gid.'),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, '64 lowercase hex digits')
      .optional(),
  })
  .strict();
export type FileCheck = z.output<typeof fileCheckSchema>;

export const fileCheck: CheckModule<FileCheck> = {
  type: 'file',
  schema: fileCheckSchema as unknown as z.ZodType<FileCheck>,
  stageable: false,
  describe: (c) =>
    c.exists
      ? `file ${c.path} exists${c.mode ? `, mode ${c.mode}` : ''}${c.owner !== undefined ? `, owner ${c.owner}` : ''}${c.sha256 ? `, sha256 ${c.sha256.slice(0, 12)}…` : ''}`
      : `file ${c.path} is absent`,
  async run(c, ctx) {
    const real = ctx.real(c.path);
    const st = await ctx.host.lstat(real).catch(() => undefined);
    if (!c.exists)
      return st
        ? { status: 'fail', summary: `${c.path} exists but must not` }
        : { status: 'pass', summary: `${c.path} is absent` };
    if (!st) return { status: 'fail', summary: `${c.path} does not exist` };
    const problems: string[] = [];
    const mode = st.mode.toString(8).padStart(4, '0');
    if (c.mode && parseInt(c.mode, 8) !== st.mode)
      problems.push(`mode is ${mode}, expected ${c.mode.padStart(4, '0')}`);
    if (c.owner !== undefined) {
      const uid = typeof c.owner === 'number' ? c.owner : await idOf(ctx, ctx.real('/etc/passwd'), c.owner);
      if (uid === undefined) problems.push(`user ${c.owner} is unknown`);
      else if (uid !== st.uid) problems.push(`owner uid is ${st.uid}, expected ${c.owner} (${uid})`);
    }
    if (c.group !== undefined) {
      const gid = typeof c.group === 'number' ? c.group : await idOf(ctx, ctx.real('/etc/group'), c.group);
      if (gid === undefined) problems.push(`group ${c.group} is unknown`);
      else if (gid !== st.gid) problems.push(`group gid is ${st.gid}, expected ${c.group} (${gid})`);
    }
    if (c.sha256) {
      const sum = await ctx.host.sha256(real);
      if (sum !== c.sha256) problems.push(`sha256 is ${sum.slice(0, 12)}…, expected ${c.sha256.slice(0, 12)}…`);
    }
    if (problems.length) return { status: 'fail', summary: `${c.path}: ${problems.join('; ')}` };
    return { status: 'pass', summary: `${c.path} present, mode ${mode}, uid ${st.uid}, gid ${st.gid}` };
  },
};

/** uid/gid by name from a passwd/group file (3rd field), so checks under --root read the sandbox's own files. */
async function idOf(ctx: CheckContext, file: string, name: string): Promise<number | undefined> {
  const text = await ctx.host.readFile(file).then(String, () => '');
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && f[2] !== undefined) return Number(f[2]);
  }
  return undefined;
}
