// The CLI's kernel suite (test/kernel/cli), run inside User-Mode Linux.
import { relay } from './kernel/relay';
void relay('cli', 1);
