// The shipped CLI: src/ bundled by esbuild into ESM under dist/bundle/ (the `bin` of package.json).
// Code splitting keeps each command's modules in their own chunks, loaded by the dynamic imports of src/commands/table.ts
// only when that command runs (so `--help` loads the entry's own chunk and nothing else). The tls-report worker is a second
// entry (parallel.ts starts ./worker.js beside its chunk), and the WebAssembly module is copied beside both.
// Source maps: read only when an internal error's trace is shown (src/lib/stack-map.ts), so it names src/….ts lines.
import { build } from 'esbuild';
import fs from 'node:fs';

const out = 'dist/bundle';

fs.rmSync(out, { recursive: true, force: true });
await build({
  entryPoints: { cli: 'src/cli.ts', worker: 'src/lib/tlslog/worker.ts' },
  outdir: out,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  // Stack traces need the mappings, not the sources' text: without it the maps are 60% smaller, and the bin reads
  // the maps of every chunk a command loads (verify: about 250 ms of 1.46 s at load 7, docs/performance.md).
  sourcesContent: false,
  minify: true, // less to read and parse at every start; the source maps keep stack traces readable
  chunkNames: '[name]-[hash]', // beside the entries: parallel.ts's ./worker.js and ./tally.wasm resolve from any chunk
  // fast-tally.ts looks for the module at this path relative to its own file when bundled.
  define: { MTA_BUNDLED_WASM: '"./tally.wasm"' },
  // Some dependencies are CommonJS and require() node built-ins: give every chunk a require of its own.
  banner: {
    js: "import { createRequire as __mtaRequire } from 'node:module'; const require = __mtaRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
fs.copyFileSync('dist/wasm/tally.wasm', `${out}/tally.wasm`);
fs.chmodSync(`${out}/cli.js`, 0o755);
