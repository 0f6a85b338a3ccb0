/**
 * One job of a kind at a time, for commands the user can start again while the first run is still going (the
 * palette, a keybinding, a notification's button): a second start is answered with a message, not a second job.
 * VS Code-free (the notifier is passed in) so the unit tests run it without the extension host.
 */

/** Tells the user why nothing started (the extension passes vscode.window.showInformationMessage). */
export type BusyNotifier = (message: string) => void;

/**
 * Runs `job` unless a job with the same key, started through this runner, is still in flight; then it calls `notify`
 * with `busyMessage` and resolves to undefined without running anything. The key is taken before the first await
 * (two starts in the same tick cannot both run) and released in finally, whether the job resolves or throws.
 */
export type SingleFlightRunner = <T>(key: string, busyMessage: string, job: () => Promise<T>) => Promise<T | undefined>;

export function singleFlight(notify: BusyNotifier): SingleFlightRunner {
  const inFlight = new Set<string>();
  return async (key, busyMessage, job) => {
    if (inFlight.has(key)) {
      notify(busyMessage);
      return undefined;
    }
    inFlight.add(key);
    try {
      return await job();
    } finally {
      inFlight.delete(key);
    }
  };
}
