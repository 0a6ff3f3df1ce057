/**
 * Postfix's build and install command lines from `features:` (docs/postfix.md): `make makefiles CCARGS=…
 * AUXLIBS=… AUXLIBS_LMDB=… AUXLIBS_PCRE=… name=value…`, `make`, and `make non-interactive-package
 * install_root=<stage> name=value…`. Pure: the same argv is shown in the dry run and run by the steps.
 */
import {
  COMPILED_PARAMS,
  POSTFIX_DEFAULTS,
  postfixPaths,
  type PostfixFeatures,
  type PostfixParam,
} from './features.js';

export interface MakefilesArgs {
  ccargs: string[];
  auxlibs: string[];
  /** AUXLIBS_LMDB, AUXLIBS_PCRE: Postfix 3.0+ keeps each map's libraries apart (LMDB_README, PCRE_README). */
  mapLibs: Record<string, string[]>;
  /** name=value words: compiled-in parameter defaults (INSTALL §4.6.1). */
  params: string[];
}

const localbaseOf = (f: PostfixFeatures) =>
  f.localbase ??
  ((f.os ?? (process.platform === 'freebsd' ? 'freebsd' : 'linux')) === 'freebsd' ? '/usr/local' : undefined);

/** The pieces of `make makefiles`, before they are joined into words. */
export function makefilesArgs(f: PostfixFeatures): MakefilesArgs {
  const cc: string[] = [];
  const aux: string[] = [];
  const mapLibs: Record<string, string[]> = {};
  const local = localbaseOf(f);
  const localInc = local ? [`-I${local}/include`] : [];
  const localLib = local ? [`-L${local}/lib`] : [];

  if (f.tls) {
    const t = typeof f.tls === 'object' ? f.tls : {};
    cc.push('-DUSE_TLS', ...(t.include ? [`-I${t.include}`] : []));
    if (t.lib) aux.push(`-L${t.lib}`, ...(t.rpath !== false ? [`-Wl,-rpath,${t.lib}`] : []));
    aux.push('-lssl', '-lcrypto');
  }
  if (f.sasl) {
    const s = typeof f.sasl === 'object' ? f.sasl : {};
    cc.push('-DUSE_SASL_AUTH', '-DUSE_CYRUS_SASL', `-I${s.include ?? `${local ?? '/usr'}/include/sasl`}`);
    aux.push(...(s.lib ? [`-L${s.lib}`] : localLib), '-lsasl2');
  }
  if (f.bdb === false) cc.push('-DNO_DB');
  if (f.lmdb) {
    cc.push('-DHAS_LMDB', ...localInc);
    mapLibs['AUXLIBS_LMDB'] = [...localLib, '-llmdb'];
  }
  if (f.pcre === true) {
    cc.push('-DHAS_PCRE=2', ...localInc);
    mapLibs['AUXLIBS_PCRE'] = [...localLib, '-lpcre2-8'];
  } else if (f.pcre === false) cc.push('-DNO_PCRE');
  if (f.eai === false) cc.push('-DNO_EAI');
  if (f.nis === false) cc.push('-DNO_NIS');
  cc.push(...(f.ccargs ?? []));
  aux.push(...(f.auxlibs ?? []));

  const paths = postfixPaths(f);
  const params = COMPILED_PARAMS.filter((k) => paths[k] !== POSTFIX_DEFAULTS[k]).map((k) => `${k}=${paths[k]}`);
  if (f.default_database_type) params.push(`default_database_type=${f.default_database_type}`);
  return { ccargs: dedupe(cc), auxlibs: dedupe(aux), mapLibs, params };
}

const dedupe = (words: string[]) => [...new Set(words)];

/** `make makefiles …` as one argv: each variable is one word (no shell: the spaces stay inside it). */
export function makefilesArgv(f: PostfixFeatures): string[] {
  const a = makefilesArgs(f);
  return [
    'make',
    'makefiles',
    `CCARGS=${a.ccargs.join(' ')}`,
    `AUXLIBS=${a.auxlibs.join(' ')}`,
    ...Object.entries(a.mapLibs).map(([k, v]) => `${k}=${v.join(' ')}`),
    ...a.params,
  ];
}

export function buildArgv(jobs?: number): string[] {
  return ['make', ...(jobs && jobs > 1 ? [`-j${jobs}`] : [])];
}

/**
 * The staged install: postfix-install -non-interactive -package with install_root (PACKAGE_README). With an
 * install_root it chowns nothing (set-permissions does that on the live system after the swap), so it needs no
 * accounts; every install parameter is passed explicitly so the stage does not depend on a main.cf.
 */
export function stagedInstallArgv(f: PostfixFeatures, stage: string): string[] {
  const paths = postfixPaths(f);
  return [
    'make',
    'non-interactive-package',
    `install_root=${stage}`,
    ...(Object.keys(paths) as PostfixParam[]).map((k) => `${k}=${paths[k]}`),
  ];
}
