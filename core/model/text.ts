/**
 * Characters a terminal (or a browser's text layout) acts on instead of showing: C0 controls
 * (newline and tab included), DEL, C1 controls (some terminals read U+009B as CSI), the line and
 * paragraph separators, and the bidi overrides and isolates (which reorder what a reader sees).
 * What agents report is refused or cleaned of them, and the CLI escapes them in what it prints.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
export const controlCharacters = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** Every control character of `text` replaced by `by`. */
export const replaceControlCharacters = (text: string, by: (char: string) => string): string =>
  text.replace(new RegExp(controlCharacters.source, 'g'), by);
