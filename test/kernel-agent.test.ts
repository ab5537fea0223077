// The agent's kernel suite (test/kernel/agent), run inside User-Mode Linux.
import { relay } from './kernel/relay';
void relay('agent', 0);
