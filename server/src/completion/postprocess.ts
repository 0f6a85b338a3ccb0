/** Last touches on a filtered completion before it becomes ghost text. */

/** Undefined when there is nothing worth showing. */
export function postprocessCompletion(completion: string, suffix: string): string | undefined {
  const trimmed = completion.replace(/\s+$/u, '');
  if (trimmed.trim() === '') return undefined;
  // A completion that only retypes what follows the cursor adds nothing.
  if (suffix.trimStart().startsWith(trimmed.trim())) return undefined;
  return trimmed;
}
