/**
 * When "Generate model code" may run what. Pure decisions (no 'vscode'), so the rules are unit-tested; the client
 * feeds them vscode.workspace.isTrusted and the user's answers.
 *
 * Untrusted workspace: nothing runs. Generation itself starts the configured Python (the parse check), and the
 * smoke test executes model-written code, so both wait until the user trusts the folder.
 * Smoke test: only with an explicit "run it" from the user for this generation, and only in a trusted workspace.
 */

export type GenerateGate = { readonly allowed: true } | { readonly allowed: false; readonly message: string };

export const UNTRUSTED_MESSAGE =
  'RepoTune: "Generate model code" is disabled in an untrusted workspace (it runs Python to check the generated code). ' +
  'Trust this folder (Workspaces: Manage Workspace Trust) to use it.';
export const NO_FOLDER_MESSAGE = 'RepoTune: open a folder (the repository on this machine) to generate model code for it.';

export function generateGate(state: { readonly trusted: boolean; readonly hasLocalFolder: boolean }): GenerateGate {
  if (!state.trusted) return { allowed: false, message: UNTRUSTED_MESSAGE };
  if (!state.hasLocalFolder) return { allowed: false, message: NO_FOLDER_MESSAGE };
  return { allowed: true };
}

/** The smoke test runs only when both hold; anything else (undefined: the user dismissed the question) is a no. */
export function smokeTestAllowed(state: { readonly trusted: boolean; readonly userConfirmed: boolean | undefined }): boolean {
  return state.trusted === true && state.userConfirmed === true;
}
