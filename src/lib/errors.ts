/**
 * Every failure the tool can report is one of these kinds. The CLI maps a kind to an exit code in one place
 * (src/cli.ts); nothing below the CLI calls process.exit.
 */
export type ErrorKind =
  | 'usage' //            bad command line                                  → 2
  | 'plan-invalid' //     the plan does not parse or validate               → 2
  | 'not-found' //        a file, backup or run named by the user is absent → 2
  | 'refused' //          lock held, unfinished run, no TTY and no --yes     → 2
  | 'failed' //           failed, nothing changed or everything undone      → 1
  | 'rollback-incomplete' // failed and at least one undo failed            → 3
  | 'dns-failed' //       DNS gave no answer: unreachable, SERVFAIL, timeout → 4 (not "an MX cannot do TLS")
  | 'blocked' //          the preview found a blocker: the run would fail before changing anything → 5
  | 'interrupted'; //     SIGINT/SIGTERM, applied work undone               → 130

export const EXIT_CODES: Record<ErrorKind, number> = {
  usage: 2,
  'plan-invalid': 2,
  'not-found': 2,
  refused: 2,
  failed: 1,
  'rollback-incomplete': 3,
  'dns-failed': 4,
  blocked: 5,
  interrupted: 130,
};

export class MtaError extends Error {
  readonly kind: ErrorKind;
  /** Extra lines shown under the message: located plan problems, per-path states, what the admin must do. */
  readonly details: string[];
  constructor(kind: ErrorKind, message: string, details: string[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MtaError';
    this.kind = kind;
    this.details = details;
  }
}

export function isMtaError(e: unknown): e is MtaError {
  return e instanceof MtaError;
}

/** The message of anything thrown, without a stack. */
export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
