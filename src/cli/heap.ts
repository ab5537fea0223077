/**
 * Keeps the CLI's young generation at its starting size (1 MiB a semispace).
 *
 * V8 doubles the young generation, up to 16 MiB a semispace, while most of
 * what it allocates survives, and a restore or a save keeps most of what it
 * allocates (55,000 rules). Each doubling is fresh memory: measured on a
 * restore of 5,000 x 10, the parse took 7,700 page faults with growth and
 * 4,200 without, and under User-Mode Linux a page fault costs about 50 µs.
 * A command lives for one pass over its data, so a small young generation
 * only means objects reach the old generation sooner, where they were going.
 * The library never does this: a process's heap belongs to its program.
 * @module
 */
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--semi-space-growth-factor=1');
