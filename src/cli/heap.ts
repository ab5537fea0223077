/**
 * The CLI's memory settings: a command lives for one pass over its data, and
 * under User-Mode Linux (where this project proves itself) every page
 * touched for the first time costs a fault of about 50 µs. The library never
 * does any of this: a process's heap belongs to its program.
 *
 * - V8's young generation stays at its starting size (1 MiB a semispace;
 *   CI has seen one doubling, under load). V8 doubles it, up to 16 MiB a
 *   semispace, while most of what it allocates survives, and a restore or
 *   a save keeps most of what it allocates (55,000 rules); each doubling is
 *   fresh memory. Measured on a restore of
 *   5,000 x 10: the parse took 7,700 page faults with growth, 4,200 without.
 *   A small young generation only means objects reach the old generation
 *   sooner, where they were going.
 * - glibc keeps what is freed (no trimming, big blocks from its heap, no new
 *   arenas: threads share the two node's start-up has made) instead of
 *   returning it to the kernel to fault it in again: V8's compiler zones and
 *   Buffers come and go all through a command. Measured: a save of 5,000 x 10
 *   took 3,000 fewer faults.
 * @module
 */
import { addon } from '../native/addon';

try {
  // Through the addon rather than node:v8, whose loading alone costs a
  // command ~25 ms and 150 page faults of start-up under UML (measured).
  addon().setV8Flags('--semi-space-growth-factor=1');
  addon().keepFreedMemory();
} catch {
  // No addon (not built): the command that needs it says so; help does not.
}
