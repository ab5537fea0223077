/**
 * Durations as people write them in configuration: "2s", "500ms", "1m30s".
 * @module
 */

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const WHOLE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;

/**
 * Milliseconds in a duration: one or more number-and-unit parts (`ms`, `s`,
 * `m`, `h`), as in Go's time.ParseDuration: "2s", "1.5s", "1m30s". Returns
 * undefined for anything else, including a bare number (is 2 seconds or
 * milliseconds? the reader cannot tell) and a result that is not whole
 * milliseconds.
 */
export function parseDuration(text: string): number | undefined {
  if (!WHOLE.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(PART)) ms += Number(m[1]) * UNIT_MS[m[2]!]!;
  // Decimal fractions ("0.1s") are not exact in binary: round what is within rounding error.
  const rounded = Math.round(ms);
  return Math.abs(ms - rounded) < 1e-6 && Number.isSafeInteger(rounded) ? rounded : undefined;
}

/** "2s", "1m30s", "250ms": the shortest text {@link parseDuration} reads back as `ms`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * size;
  }
  return out;
}
