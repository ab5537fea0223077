// The library's kernel suite (test/kernel/lib), run inside User-Mode Linux.
import { relay } from './kernel/relay';
void relay('lib', 0);
