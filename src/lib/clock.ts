/** Injected into the engine so tests can drive time (journal stamps, durations, ids). */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** High resolution milliseconds for measuring windows (swap, downtime). */
  mono(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  mono: () => performance.now(),
};

/** A sortable, filesystem-safe id for runs and backups: 20261128T021646Z-1a2b. */
export function timeId(clock: Clock, suffix = Math.random().toString(16).slice(2, 6)): string {
  const iso = new Date(clock.now())
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${iso}-${suffix}`;
}
