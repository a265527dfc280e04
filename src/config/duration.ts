const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 };
export const DURATION_PATTERN = /^(\d+)\s*(s|m|h|d|w)$/;

/** "90s", "15m", "2h", "7d", "1w" to seconds. */
export function parseDuration(text: string): number {
  const m = DURATION_PATTERN.exec(text.trim());
  if (!m) throw new Error(`not a duration: ${text}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}
