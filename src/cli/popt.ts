/**
 * A command-line tokenizer that behaves like popt 1.19, the option parser
 * ipvsadm is built with, for the features ipvsadm uses: short options in
 * clusters (`-Ln`), an argument attached (`-w5`, `-w=5`) or in the next
 * word, long options (`--weight 5`, `--weight=5`), optional arguments that
 * are taken only when the next word does not start with `-`, words that are
 * not options collected as leftovers anywhere on the line, and `--` ending
 * the options.
 *
 * Why not a stock parser: scripts written for ipvsadm depend on popt's
 * quirks (a required argument swallows the next word even when it starts
 * with `-`; `-w=5` means `-w 5`; long names are never abbreviated), and
 * error messages name the word popt last read.
 * @module
 */

/** How an option takes its argument. */
export type ArgKind = 'none' | 'required' | 'optional';

/** One entry of an option table. */
export interface OptionSpec<Id> {
  long?: string;
  short?: string;
  arg: ArgKind;
  id: Id;
}

/** popt's error for an unknown option (`poptStrerror`: "unknown option"). */
export const BADOPT = 'unknown option';
/** popt's error for a missing required argument (`poptStrerror`: "missing argument"). */
export const NOARG = 'missing argument';
/** popt's error for `--flag=x` or `-f=x` on an option without argument. */
export const UNWANTEDARG = 'option does not take an argument';

/** What {@link Popt.next} returns: an option, the end, or an error. */
export type PoptResult<Id> =
  | { id: Id; arg: string | undefined }
  | { error: typeof BADOPT | typeof NOARG | typeof UNWANTEDARG }
  | null;

interface Index<Id> {
  byLong: Map<string, OptionSpec<Id>>;
  byShort: Map<string, OptionSpec<Id>>;
}

const indexes = new WeakMap<readonly OptionSpec<unknown>[], Index<unknown>>();

/** A parsing context over one argv (argv[0] is the program name). */
export class Popt<Id> {
  private next_ = 1;
  /** The rest of a short-option cluster still to read (never empty). */
  private cluster: string | undefined;
  private rest = false;
  private readonly posix: boolean = false;
  private readonly leftovers: string[] = [];
  private nextLeftover = 0;
  private readonly byLong: Map<string, OptionSpec<Id>>;
  private readonly byShort: Map<string, OptionSpec<Id>>;

  constructor(
    private readonly argv: readonly string[],
    table: readonly OptionSpec<Id>[],
  ) {
    // popt stops at the first word that is not an option when either of
    // these is set (POPT_CONTEXT_POSIXMEHARDER).
    if (process.env.POSIXLY_CORRECT !== undefined || process.env.POSIX_ME_HARDER !== undefined) this.posix = true;
    // A restore parses tens of thousands of lines with one table: index it once.
    let index = indexes.get(table) as Index<Id> | undefined;
    if (!index) {
      index = { byLong: new Map(), byShort: new Map() };
      for (const o of table) {
        if (o.long !== undefined) index.byLong.set(o.long, o);
        if (o.short !== undefined) index.byShort.set(o.short, o);
      }
      indexes.set(table, index);
    }
    this.byLong = index.byLong;
    this.byShort = index.byShort;
  }

  /** The next option; `null` at the end. */
  next(): PoptResult<Id> {
    for (;;) {
      let opt: OptionSpec<Id> | undefined;
      let longArg: string | undefined;
      if (this.cluster === undefined) {
        if (this.next_ >= this.argv.length) return null;
        const word = this.argv[this.next_++] as string;
        if (this.rest || word[0] !== '-' || word === '-') {
          if (this.posix) this.rest = true;
          this.leftovers.push(word);
          continue;
        }
        if (word === '--') {
          this.rest = true;
          continue;
        }
        const long = word[1] === '-';
        const body = long ? word.slice(2) : word.slice(1);
        const eq = body.indexOf('=');
        const name = eq < 0 ? body : body.slice(0, eq);
        if (long) {
          opt = this.byLong.get(name);
          if (!opt) return { error: BADOPT };
          if (eq >= 0) longArg = body.slice(eq + 1);
        } else {
          // A single dash: ipvsadm declares no one-dash long options, so the
          // word is a cluster of short options.
          this.cluster = word.slice(1);
        }
      }
      if (this.cluster !== undefined) {
        const cluster = this.cluster;
        this.cluster = undefined;
        const c = cluster[0];
        opt = c === undefined ? undefined : this.byShort.get(c);
        if (!opt) return { error: BADOPT };
        const tail = cluster.slice(1);
        if (tail !== '') this.cluster = tail;
      }
      const o = opt as OptionSpec<Id>;
      if (o.arg === 'none') {
        if (longArg !== undefined || this.cluster?.[0] === '=') return { error: UNWANTEDARG };
        return { id: o.id, arg: undefined };
      }
      let arg: string | undefined;
      if (longArg !== undefined) arg = longArg;
      else if (this.cluster !== undefined) {
        arg = this.cluster[0] === '=' ? this.cluster.slice(1) : this.cluster;
        this.cluster = undefined;
      } else if (this.next_ >= this.argv.length) {
        if (o.arg === 'required') return { error: NOARG };
        arg = undefined;
      } else if (o.arg === 'optional' && (this.argv[this.next_] as string)[0] === '-') {
        arg = undefined;
      } else {
        arg = this.argv[this.next_++];
      }
      return { id: o.id, arg };
    }
  }

  /** The word popt read last (what `poptBadOption` names in error messages). */
  badOption(): string {
    return this.argv[this.next_ - 1] ?? '';
  }

  /** The next leftover word (not an option), in order; undefined when none is left. */
  arg(): string | undefined {
    if (this.nextLeftover < this.leftovers.length) return this.leftovers[this.nextLeftover++];
    return undefined;
  }
}
