/**
 * The listr2 runner, in one place. Our own SIGINT handling (listr2's exits 127 and skips rollback), renderer
 * chosen from the terminal and flags, and JSON events for --json. listr2 is loaded lazily so commands that do
 * not run tasks (probe, validate, --help) start fast.
 */
import { formatDuration } from '../lib/format.js';

export interface Task {
  title: string;
  run: (report: (line: string) => void) => Promise<string | void>;
}

export type Renderer = 'default' | 'simple' | 'verbose' | 'silent';

export async function runTasks(
  tasks: Task[],
  opts: { renderer: Renderer; event: (type: string, data: Record<string, unknown>) => void; continueOnError?: boolean },
): Promise<{ failed: { title: string; error: unknown }[] }> {
  const { Listr, PRESET_TIMER } = await import('listr2');
  // Each step's time on the task list, in our units ("4.2 s", "2 min 5 s").
  const timer = { ...PRESET_TIMER, field: (ms: number) => formatDuration(ms) };
  const failed: { title: string; error: unknown }[] = [];
  const list = new Listr(
    tasks.map((t, index) => ({
      title: t.title,
      rendererOptions: { outputBar: 5, persistentOutput: false, timer },
      task: async (_ctx: unknown, task: { output: string; title: string }) => {
        opts.event('task', { index, title: t.title, state: 'started' });
        const started = performance.now();
        try {
          const note = await t.run((line) => {
            task.output = line;
            opts.event('output', { index, line });
          });
          if (note) task.title = `${t.title}: ${note}`;
          opts.event('task', {
            index,
            title: t.title,
            state: 'completed',
            note: note ?? null,
            durationMs: Math.round(performance.now() - started),
          });
        } catch (error) {
          failed.push({ title: t.title, error });
          opts.event('task', {
            index,
            title: t.title,
            state: 'failed',
            error: error instanceof Error ? error.message : String(error),
          });
          throw error;
        }
      },
    })),
    {
      renderer: opts.renderer,
      fallbackRenderer: opts.renderer === 'silent' ? 'silent' : 'simple',
      exitOnError: !opts.continueOnError,
      exitAfterRollback: true,
      registerSignalListeners: false,
      collectErrors: opts.continueOnError ? 'minimal' : false,
      rendererOptions: { showErrorMessage: true, collapseErrors: false, timer },
    },
  );
  try {
    await list.run();
  } catch {
    /* recorded in `failed` */
  }
  return { failed };
}
