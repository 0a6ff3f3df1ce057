/**
 * `${name}` interpolation over every string of a plan. Variables come from `vars:` (which may use each other)
 * and the built-ins (`root`). `$${` writes a literal `${`. An unknown or cyclic variable is reported at the
 * string that uses it, so the admin sees file:line:col like any other plan error.
 *
 * Names are looked up as own properties only (`${toString}` is an unknown variable, not a JavaScript function),
 * and no interpolated string may grow past MAX_INTERPOLATED characters: forty variables that each double the one
 * before would otherwise build a string of 2^40 characters.
 */
import { closest } from '../lib/did-you-mean.js';

export type PathKey = string | number;

export interface InterpolationProblem {
  path: PathKey[];
  message: string;
}

const REF = /\$(\$)?\{([^}]*)\}/g;

/** Longest string interpolation may produce (a path, an argv element or a script is far shorter). */
export const MAX_INTERPOLATED = 1 << 20;

const own = (o: object, k: string): boolean => Object.hasOwn(o, k);

export function resolveVars(
  raw: Record<string, unknown>,
  builtins: Record<string, string>,
): { vars: Record<string, string>; problems: InterpolationProblem[] } {
  const problems: InterpolationProblem[] = [];
  const vars: Record<string, string> = Object.assign(Object.create(null) as Record<string, string>, builtins);
  const resolving = new Set<string>();
  const resolve = (name: string): string | undefined => {
    if (own(vars, name)) return vars[name];
    if (!own(raw, name)) return undefined;
    if (resolving.has(name)) {
      problems.push({
        path: ['vars', name],
        message: `variable '${name}' refers to itself (${[...resolving, name].join(' → ')})`,
      });
      return '';
    }
    resolving.add(name);
    const value = substitute(String(raw[name]), ['vars', name], resolve, known, problems);
    resolving.delete(name);
    vars[name] = value;
    return value;
  };
  const known = () => [...new Set([...Object.keys(builtins), ...Object.keys(raw)])];
  for (const name of Object.keys(raw)) resolve(name);
  return { vars, problems };
}

/** Interpolate every string below `value`, except the `vars` map itself (resolved by resolveVars). */
export function interpolateTree(
  value: unknown,
  vars: Record<string, string>,
  problems: InterpolationProblem[],
  path: PathKey[] = [],
): unknown {
  const lookup = (n: string) => (own(vars, n) ? vars[n] : undefined);
  const known = () => Object.keys(vars);
  if (typeof value === 'string') return substitute(value, path, lookup, known, problems);
  if (Array.isArray(value)) return value.map((v, i) => interpolateTree(v, vars, problems, [...path, i]));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = path.length === 0 && k === 'vars' ? v : interpolateTree(v, vars, problems, [...path, k]);
    }
    return out;
  }
  return value;
}

function substitute(
  text: string,
  path: PathKey[],
  lookup: (name: string) => string | undefined,
  known: () => string[],
  problems: InterpolationProblem[],
): string {
  const parts: string[] = [];
  let size = 0;
  let last = 0;
  const put = (s: string): boolean => {
    size += s.length;
    if (size > MAX_INTERPOLATED) return false;
    parts.push(s);
    return true;
  };
  for (const m of text.matchAll(REF)) {
    const [whole, escaped, name = ''] = m;
    if (!put(text.slice(last, m.index))) break;
    last = m.index + whole.length;
    let piece = whole;
    if (escaped)
      piece = whole.slice(1); // $${x} → ${x}
    else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      problems.push({ path, message: `bad variable reference '${whole}': names are letters, digits and _` });
    } else {
      const v = lookup(name);
      if (v === undefined) {
        const hint = closest(name, known());
        problems.push({
          path,
          message: `unknown variable '\${${name}}'${hint ? ` (did you mean '\${${hint}}'?)` : ''}; define it under vars:`,
        });
      } else piece = v;
    }
    if (!put(piece)) break;
  }
  if (size <= MAX_INTERPOLATED) put(text.slice(last));
  if (size > MAX_INTERPOLATED) {
    problems.push({
      path,
      message: `interpolated value longer than ${MAX_INTERPOLATED} characters (variables that double each other?)`,
    });
    return '';
  }
  return parts.join('');
}
