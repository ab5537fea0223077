/**
 * Exec check: a program run without a shell; exit 0 is healthy. It runs in a
 * process group of its own, so a timeout kills whatever it started as well
 * (a script's curl, a wrapper's child), not just the program itself.
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { Attempt, errorReason, type Prober } from './attempt';
import type { ExecCheck, ProbeResult, ProbeTarget } from './types';

/** How much of the program's output is kept to explain a failure. */
const OUTPUT_LIMIT = 512;
/** How much of that a reason quotes. */
const REASON_LIMIT = 120;
/** How long a killed program may take to be reaped before the probe ends anyway. */
const REAP_GRACE_MS = 1000;

/** Builds the prober of one exec check on one target. */
export function execProber(target: ProbeTarget, check: ExecCheck): Prober {
  const argv = substitute(check.argv, target);
  return () => new Promise<ProbeResult>((resolve) => new ExecAttempt(argv, check.timeoutMs, resolve).begin());
}

/** Replaces `{address}` and `{port}` in every argument. */
export function substitute(argv: readonly string[], target: ProbeTarget): string[] {
  const port = String(target.port);
  return argv.map((a) => a.replaceAll('{address}', target.address).replaceAll('{port}', port));
}

class ExecAttempt extends Attempt {
  private child: ChildProcess | undefined;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private closed = false;
  private spawnFailed = false;
  private held: ProbeResult | undefined;
  private readonly stdout: Buffer[] = [];
  private readonly stderr: Buffer[] = [];

  constructor(
    private readonly argv: string[],
    timeoutMs: number,
    private readonly settle: (r: ProbeResult) => void,
  ) {
    super(timeoutMs, settle, 'running');
  }

  protected start(): void {
    const child = spawn(this.argv[0]!, this.argv.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // setsid(): its own process group, killed as one on timeout
    });
    this.child = child;
    collect(child.stdout!, this.stdout);
    collect(child.stderr!, this.stderr);
    child.on('error', (err) => {
      this.spawnFailed = true;
      this.finish(false, errorReason('spawn', err));
    });
    child.on('exit', (code, signal) => {
      this.exit = { code, signal };
      const held = this.held;
      if (held !== undefined) {
        this.held = undefined;
        this.settle(held);
      }
    });
    // 'close' comes after 'exit' once the output pipes are drained, so the
    // reason can quote the program's last words.
    child.on('close', () => {
      this.closed = true;
      if (this.exit !== undefined) this.judge(this.exit.code, this.exit.signal);
    });
  }

  protected override timedOut(): void {
    // The program has exited but something it started still holds its
    // output open: the exit status is the verdict.
    if (this.exit !== undefined) this.judge(this.exit.code, this.exit.signal);
    else super.timedOut();
  }

  private judge(code: number | null, signal: NodeJS.Signals | null): void {
    if (code === 0) return this.finish(true, 'exit 0');
    const said = firstLine(this.stderr) ?? firstLine(this.stdout);
    const status = code !== null ? `exit ${code}` : `killed by ${signal ?? 'a signal'}`;
    this.finish(false, said === undefined ? status : `${status}: ${said}`);
  }

  protected release(): void {
    const child = this.child;
    if (child === undefined) return;
    if (child.pid !== undefined && (this.exit === undefined || !this.closed)) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // ESRCH: the group is gone already.
      }
    }
    child.stdout?.destroy();
    child.stderr?.destroy();
  }

  /**
   * A killed child is reaped before the probe counts as over, so stop() leaves
   * no process behind; but a process stuck in the kernel (D state) ignores
   * even SIGKILL, and must not stall the schedule forever.
   */
  protected override deliver(result: ProbeResult): void {
    if (this.exit !== undefined || this.spawnFailed || this.child?.pid === undefined) return this.settle(result);
    this.held = result;
    const grace = setTimeout(() => {
      if (this.held === undefined) return;
      this.held = undefined;
      this.settle(result);
    }, REAP_GRACE_MS);
    this.child.once('exit', () => clearTimeout(grace));
  }
}

function collect(stream: Readable, into: Buffer[]): void {
  let kept = 0;
  stream.on('data', (chunk: Buffer) => {
    if (kept >= OUTPUT_LIMIT) return;
    into.push(chunk.subarray(0, OUTPUT_LIMIT - kept));
    kept += Math.min(chunk.length, OUTPUT_LIMIT - kept);
  });
  stream.on('error', () => {
    // A pipe destroyed on release: the output no longer matters.
  });
}

function firstLine(parts: Buffer[]): string | undefined {
  if (parts.length === 0) return undefined;
  const line = Buffer.concat(parts)
    .toString('utf8')
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  if (line === undefined) return undefined;
  return line.length > REASON_LIMIT ? `${line.slice(0, REASON_LIMIT - 1)}…` : line;
}
