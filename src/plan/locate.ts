/**
 * Turning a problem at a data path (steps[2].argv) into file:line:col. Follows the path through the YAML
 * document (maps by key, sequences by index); when the key is missing, points at the nearest existing parent.
 */
import { isMap, isSeq, isPair, isScalar, type Document, type LineCounter, type Node } from 'yaml';
import type { PathKey } from './interpolate.js';

export interface Position {
  line: number;
  col: number;
}

export function locate(doc: Document, lc: LineCounter, path: PathKey[], opts: { key?: string } = {}): Position {
  let node: unknown = doc.contents;
  let best: Position = { line: 1, col: 1 };
  const posOf = (n: unknown): Position | undefined => {
    const range = (n as Node | null)?.range;
    if (!range) return undefined;
    const p = lc.linePos(range[0]);
    return { line: p.line, col: p.col };
  };
  best = posOf(node) ?? best;
  for (const key of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(key));
      if (!pair) return best;
      best = posOf(pair.value) ?? posOf(pair.key) ?? best;
      node = pair.value;
    } else if (isSeq(node)) {
      const item = node.items[Number(key)];
      if (item === undefined) return best;
      best = posOf(item) ?? best;
      node = item;
    } else return best;
  }
  if (opts.key !== undefined && isMap(node)) {
    const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === opts.key);
    if (pair) return posOf(pair.key) ?? best;
  }
  return best;
}

/** steps[2].argv, vars.prefix — how a path is written in messages. */
export function formatPath(path: PathKey[]): string {
  let out = '';
  for (const k of path) out += typeof k === 'number' ? `[${k}]` : out ? `.${k}` : k;
  return out || '(top level)';
}
