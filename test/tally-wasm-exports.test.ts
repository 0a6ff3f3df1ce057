/**
 * fast-tally.ts calls the WebAssembly module through a hand-written interface (tally-module.ts's Exports, whose
 * parameter counts EXPORT_ARITY repeats and tsc checks). Here that interface is held to the module scripts/setup.sh built:
 * the same functions, none missing, none extra, each taking the number of parameters the interface declares, and
 * the imports FastTally gives it. A module left stale by an edit under assembly/, or an edit that changed an
 * export, fails here instead of misbehaving in a report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EXPORT_ARITY, wasmModule } from '../src/lib/tlslog/tally-module.js';

test("the built module's exports are the interface fast-tally.ts calls", () => {
  const mod = wasmModule();
  const exported = WebAssembly.Module.exports(mod);
  const functions = exported
    .filter((e) => e.kind === 'function')
    .map((e) => e.name)
    .sort();
  assert.deepEqual(functions, Object.keys(EXPORT_ARITY).sort());
  // Besides functions, only the memory (the imported one, which asc also exports unless told not to).
  assert.deepEqual(
    exported.filter((e) => e.kind !== 'function'),
    [{ name: 'memory', kind: 'memory' }],
  );

  const memory = new WebAssembly.Memory({ initial: 1, maximum: 65536, shared: true });
  const instance = new WebAssembly.Instance(mod, { env: { memory, stampAt: () => 0, abort: () => {} } });
  for (const [name, arity] of Object.entries(EXPORT_ARITY)) {
    const fn = instance.exports[name] as (...a: number[]) => unknown;
    assert.equal(fn.length, arity, `${name} takes ${arity} parameter(s) in fast-tally.ts`);
  }
});

test('the module imports exactly what FastTally gives it', () => {
  const imports = WebAssembly.Module.imports(wasmModule())
    .map((i) => `${i.module}.${i.name}:${i.kind}`)
    .sort();
  assert.deepEqual(imports, ['env.abort:function', 'env.memory:memory', 'env.stampAt:function']);
});
