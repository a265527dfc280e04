// JSON text for event values, exactly as JSON.stringify writes them. Events are written as
// text straight from the row, not built as objects and stringified (docs/adr/0002-event-json-by-hand.md).

// Printable ASCII other than '"' and '\': the text JSON.stringify leaves as it is.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Whether JSON writes this string as it is, between quotes. */
export function isPlainText(text: string): boolean {
  return PLAIN.test(text);
}

/** A string as a JSON string literal. */
function jsonString(text: string): string {
  return PLAIN.test(text) ? `"${text}"` : JSON.stringify(text);
}

/** Any converted event value (text, number, boolean, list, object) as JSON text. */
export function jsonValue(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return jsonString(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return JSON.stringify(value);
  }
}
