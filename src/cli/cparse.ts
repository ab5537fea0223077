/**
 * The C library's text-to-number and text-to-address conversions, as
 * ipvsadm calls them (glibc 2.36): `strtol`, `atoi`, `inet_aton`,
 * `inet_pton`. ipvsadm's grammar is defined by what these accept —
 * `-w +5`, `-M 24` (= 0.0.0.24), `-t 0x7f.1:80` (= 127.0.0.1) — so the
 * `ipvs` command accepts exactly the same words.
 * @module
 */

const SPACE = new Set([' ', '\t', '\n', '\v', '\f', '\r']);

/** `isspace()` in the C locale. */
export function isCSpace(c: string | undefined): boolean {
  return c !== undefined && SPACE.has(c);
}

function isDigit(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '9';
}

function hexValue(c: string | undefined): number {
  if (c === undefined) return -1;
  if (c >= '0' && c <= '9') return c.charCodeAt(0) - 48;
  if (c >= 'a' && c <= 'f') return c.charCodeAt(0) - 87;
  if (c >= 'A' && c <= 'F') return c.charCodeAt(0) - 55;
  return -1;
}

const LONG_MAX = 9223372036854775807n;
const LONG_MIN = -9223372036854775808n;

/** `strtol(s, &end, 10)` on a 64-bit system: the value (clamped on overflow), where parsing stopped, and ERANGE. */
export function strtol10(s: string, start = 0): { value: bigint; end: number; erange: boolean } {
  let i = start;
  while (isCSpace(s[i])) i++;
  let neg = false;
  if (s[i] === '+' || s[i] === '-') {
    neg = s[i] === '-';
    i++;
  }
  const digits = i;
  while (isDigit(s[i])) i++;
  if (i === digits) return { value: 0n, end: start, erange: false };
  let v = BigInt(s.slice(digits, i));
  if (neg) v = -v;
  if (v > LONG_MAX) return { value: LONG_MAX, end: i, erange: true };
  if (v < LONG_MIN) return { value: LONG_MIN, end: i, erange: true };
  return { value: v, end: i, erange: false };
}

/**
 * ipvsadm's `string_to_number`: the whole word must be a base-10 integer in
 * [min, max] (leading blanks and a sign allowed, as strtol does); -1 otherwise.
 */
export function stringToNumber(s: string, min: number, max: number): number {
  // The common case, plain digits that fit a double exactly, without BigInt:
  // a restore converts hundreds of thousands of them.
  if (s.length > 0 && s.length <= 15) {
    let v = 0;
    let i = 0;
    for (; i < s.length; i++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      v = v * 10 + c;
    }
    if (i === s.length) return v >= min && v <= max ? v : -1;
  }
  const r = strtol10(s);
  if (r.end === 0 || r.end !== s.length || r.erange) return -1;
  if (r.value < BigInt(min) || r.value > BigInt(max)) return -1;
  return Number(r.value);
}

/** `atoi()` as glibc does it: `(int) strtol(s, NULL, 10)`. */
export function atoi(s: string): number {
  return Number(BigInt.asIntN(32, strtol10(s).value));
}

/**
 * `strtoul(s, &end, 0)` from a digit: base by prefix (0x hex, 0 octal).
 * Returns the value (Infinity past 2^32, which every caller refuses) and
 * where it stopped.
 */
function strtoul0(s: string, i: number): { value: number; end: number } {
  let base = 10;
  let j = i;
  if (s[j] === '0') {
    if ((s[j + 1] === 'x' || s[j + 1] === 'X') && hexValue(s[j + 2]) >= 0) {
      base = 16;
      j += 2;
    } else base = 8;
  }
  let v = 0;
  const from = j;
  for (;;) {
    const d = hexValue(s[j]);
    if (d < 0 || d >= base) break;
    v = v > 0xffffffff ? Infinity : v * base + d;
    j++;
  }
  if (j === from && base === 8) j = i + 1; // a lone "0"
  return { value: v, end: j };
}

/**
 * glibc's `inet_aton`: `a.b.c.d`, `a.b.c`, `a.b` or `a`, each part decimal,
 * octal (leading 0) or hex (0x); trailing blanks and whatever follows them
 * are ignored. Returns the 4 address bytes, or null.
 */
export function inetAton(s: string): Buffer | null {
  const parts: number[] = [];
  let i = 0;
  let val = 0;
  for (;;) {
    if (!isDigit(s[i])) return null;
    const r = strtoul0(s, i);
    if (r.value > 0xffffffff) return null;
    val = r.value;
    i = r.end;
    if (s[i] === '.') {
      if (parts.length > 2 || val > 0xff) return null;
      parts.push(val);
      i++;
    } else break;
  }
  if (i < s.length && !isCSpace(s[i])) return null;
  const max = [0xffffffff, 0xffffff, 0xffff, 0xff][parts.length] as number;
  if (val > max) return null;
  // The last part fills the bytes the earlier parts leave.
  let word = val;
  parts.forEach((p, k) => (word += p * 2 ** (24 - 8 * k)));
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(word, 0);
  return b;
}

/** glibc's `inet_pton(AF_INET)`: exactly four decimal parts 0..255, no leading zeros. */
export function inetPton4(s: string, start = 0, end = s.length): Buffer | null {
  const out = Buffer.alloc(4);
  let octets = 0;
  let sawDigit = false;
  let cur = 0;
  for (let i = start; i < end; i++) {
    const ch = s[i] as string;
    if (isDigit(ch)) {
      if (sawDigit && cur === 0) return null;
      cur = cur * 10 + (ch.charCodeAt(0) - 48);
      if (cur > 255) return null;
      if (!sawDigit) {
        if (++octets > 4) return null;
        sawDigit = true;
      }
      out[octets - 1] = cur;
    } else if (ch === '.' && sawDigit) {
      if (octets === 4) return null;
      cur = 0;
      sawDigit = false;
    } else return null;
  }
  if (octets < 4) return null;
  return out;
}

/** glibc's `inet_pton(AF_INET6)` (no zone suffix, an embedded dotted quad at the end). Returns 16 bytes or null. */
export function inetPton6(s: string): Buffer | null {
  const out = Buffer.alloc(16);
  let i = 0;
  const end = s.length;
  if (i === end) return null;
  if (s[i] === ':') {
    i++;
    if (i === end || s[i] !== ':') return null;
  }
  let tp = 0;
  let colonp = -1;
  let curtok = i;
  let seen = 0;
  let val = 0;
  while (i < end) {
    const ch = s[i++] as string;
    const d = hexValue(ch);
    if (d >= 0) {
      if (seen === 4) return null;
      val = (val << 4) | d;
      seen++;
      continue;
    }
    if (ch === ':') {
      curtok = i;
      if (seen === 0) {
        if (colonp >= 0) return null;
        colonp = tp;
        continue;
      } else if (i === end) return null;
      if (tp + 2 > 16) return null;
      out[tp++] = (val >> 8) & 0xff;
      out[tp++] = val & 0xff;
      seen = 0;
      val = 0;
      continue;
    }
    if (ch === '.' && tp + 4 <= 16) {
      const v4 = inetPton4(s, curtok, end);
      if (v4) {
        v4.copy(out, tp);
        tp += 4;
        seen = 0;
        break;
      }
    }
    return null;
  }
  if (seen > 0) {
    if (tp + 2 > 16) return null;
    out[tp++] = (val >> 8) & 0xff;
    out[tp++] = val & 0xff;
  }
  if (colonp >= 0) {
    if (tp === 16) return null;
    const n = tp - colonp;
    out.copy(out, 16 - n, colonp, tp);
    out.fill(0, colonp, 16 - n);
    tp = 16;
  }
  if (tp !== 16) return null;
  return out;
}

/** `inet_ntoa`: four bytes as a dotted quad. */
export function inetNtoa(b: Buffer, offset = 0): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}
