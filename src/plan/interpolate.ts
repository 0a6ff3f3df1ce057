/**
 * `${name}` interpolation over every string of a plan. Variables come from `vars:` (which may use each other)
 * and the built-ins (`root`). `$${` writes a literal `${`. An unknown or cyclic variable is reported at the
 * string that uses it, so the admin sees file:line:col like any other plan error.
 */
export type PathKey = string | number;

export interface InterpolationProblem {
  path: PathKey[];
  message: string;
}

const REF = /\$(\$)?\{([^}]*)\}/g;

export function resolveVars(
  raw: Record<string, unknown>,
  builtins: Record<string, string>,
): { vars: Record<string, string>; problems: InterpolationProblem[] } {
  const problems: InterpolationProblem[] = [];
  const vars: Record<string, string> = { ...builtins };
  const resolving = new Set<string>();
  const resolve = (name: string): string | undefined => {
    if (name in vars) return vars[name];
    if (!(name in raw)) return undefined;
    if (resolving.has(name)) {
      problems.push({ path: ['vars', name], message: `variable '${name}' refers to itself (${[...resolving, name].join(' → ')})` });
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
  const lookup = (n: string) => vars[n];
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
  return text.replace(REF, (whole, escaped: string | undefined, name: string) => {
    if (escaped) return whole.slice(1); // $${x} → ${x}
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      problems.push({ path, message: `bad variable reference '${whole}': names are letters, digits and _` });
      return whole;
    }
    const v = lookup(name);
    if (v === undefined) {
      const hint = closest(name, known());
      problems.push({
        path,
        message: `unknown variable '\${${name}}'${hint ? ` (did you mean '\${${hint}}'?)` : ''}; define it under vars:`,
      });
      return whole;
    }
    return v;
  });
}

/** Levenshtein distance, for "did you mean". */
export function distance(a: string, b: string): number {
  const dp = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = dp[0]!;
    dp[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = dp[j]!;
      dp[j] = Math.min(dp[j]! + 1, dp[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return dp[b.length]!;
}

export function closest(word: string, candidates: string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) [best, bestD] = [c, d];
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}
