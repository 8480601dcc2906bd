/**
 * Quotes a value someone else sent, for an error message or a log line: JSON, cut to `max`
 * characters with the full length said. A value is never quoted whole, so a 900 KB string costs
 * the log a hundred bytes, not 900 KB per attempt.
 */
export const MAX_QUOTED = 64;

export function quote(value: unknown, max = MAX_QUOTED): string {
  let text: string;
  try {
    text = typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
  } catch {
    // Cyclic or too deep to stringify.
    text = Object.prototype.toString.call(value);
  }
  if (text.length <= max) return text;
  return `${text.slice(0, max)}... (${text.length} characters)`;
}
