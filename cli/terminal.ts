import { replaceControlCharacters } from '../core/model/text.ts';

/**
 * What reaches an operator's terminal from the control plane is data, never control: a task's
 * stoppedReason, an agent's version or a service event may hold escape sequences (anyone with an
 * activation code can make an agent report them), and a terminal would obey them — set the window
 * title, clear the screen, write the clipboard (OSC 52). Every text the CLI prints from an answer
 * goes through these.
 */

const escapeOf = (char: string): string => {
  const code = char.charCodeAt(0);
  if (char === '\n') return '\\n';
  if (char === '\r') return '\\r';
  if (char === '\t') return '\\t';
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
};

/** `text` with every control character shown as an escape (`\x1b`, `\n`, `\u202e`), so it prints as it is. */
export const printable = (text: string): string => replaceControlCharacters(text, escapeOf);

/**
 * JSON for a terminal: JSON.stringify already escapes C0 controls inside strings; this also escapes
 * DEL, C1 and the bidi characters as `\uXXXX`, which is still the same JSON value.
 */
export const printableJson = (value: unknown, space?: number): string =>
  replaceControlCharacters(
    JSON.stringify(value, null, space),
    // Outside strings JSON.stringify writes only newlines and spaces; inside them, every C0 control
    // is already an escape, so what is left to escape is DEL, C1 and the separators and bidi marks.
    (char) => (char === '\n' ? char : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`),
  );
