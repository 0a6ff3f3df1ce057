/**
 * An internal error's stack frames as src/….ts lines, read from the bundle's source maps (scripts/bundle.mjs) only
 * when a trace is shown. Node's own source map support (process.setSourceMapsEnabled) reads the map of every chunk
 * a command loads, at every start: about 14 ms of a 290 ms `verify`, for a trace that is almost never printed.
 * Frames of files without a map (tsc's output, Node's internals) stay as they are.
 */
import fs from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** `file:///…/chunk.js:LINE:COL` or `/…/chunk.js:LINE:COL` inside a frame. */
const LOCATION = /(file:\/\/\/[^\s()]+?|\/[^\s()]+?\.js):(\d+):(\d+)/;

export function mapStack(lines: string[]): string[] {
  const maps = new Map<string, SourceMap | undefined>();
  const mapOf = (file: string) => {
    if (!maps.has(file)) {
      let map: SourceMap | undefined;
      try {
        map = new SourceMap(JSON.parse(fs.readFileSync(`${file}.map`, 'utf8')));
      } catch {
        map = undefined; // no map beside it, or unreadable: the frame stays as Node wrote it
      }
      maps.set(file, map);
    }
    return maps.get(file);
  };
  return lines.map((line) => {
    const m = LOCATION.exec(line);
    if (!m) return line;
    const file = m[1]!.startsWith('file:') ? fileURLToPath(m[1]!) : m[1]!;
    const e = mapOf(file)?.findEntry(Number(m[2]) - 1, Number(m[3]) - 1);
    if (!e || !('originalSource' in e) || !e.originalSource) return line;
    const source = path.resolve(path.dirname(file), e.originalSource);
    return line.replace(m[0], `${source}:${e.originalLine + 1}:${e.originalColumn + 1}`);
  });
}
