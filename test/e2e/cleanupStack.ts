/**
 * What a test bed started, to undo in reverse order. Closing keeps going past a failing step,
 * so one stuck process never leaves the rest (sshd, gateway, temp folders) running.
 */
export class CleanupStack {
  private readonly steps: (() => Promise<unknown> | unknown)[] = [];

  push(step: () => Promise<unknown> | unknown): void {
    this.steps.push(step);
  }

  readonly close = async (): Promise<void> => {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch {
        // keep closing the rest
      }
    }
  };
}
