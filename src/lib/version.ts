/**
 * The tool's version, read once from its own package.json (the one truth: `--version`, journals and manifests),
 * found upwards from this module, which lives in dist/src/lib/ (tsc) or dist/bundle/ (the bundle).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function readVersion(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); ; dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'mta-upgrade' && pkg.version) return pkg.version;
    } catch {
      /* not here: go up */
    }
    if (dir === path.dirname(dir)) return '0.0.0-unknown';
  }
}

export const TOOL_VERSION = readVersion();
