/**
 * Runs a command inside User-Mode Linux: a real Linux kernel (Debian's
 * `user-mode-linux` package, 6.1 with IPVS) booted as an ordinary process,
 * with the host's own file system as its root (hostfs). The guest runs the
 * host's `node`, the built addon and the tests in place.
 *
 * This is how the project proves kernel behaviour on machines whose own
 * kernel has no IPVS. It is test and lab tooling: the library itself never
 * uses it.
 *
 * How a run works: an init script (PID 1 in the guest) mounts /proc, /sys
 * and a tmpfs /run, points the kernel's module loader at the UML modules,
 * brings `lo` up, loads the requested modules, runs the command with its
 * output in files of a fresh host directory, writes the exit status there
 * and powers off. The host streams the output file while the guest runs.
 * No status file means the run failed.
 * @module
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, openSync, readSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the UML kernel and its modules are. */
export interface UmlInstall {
  kernel: string;
  version: string;
  modules: string;
}

/** What to install when UML is missing, in one line. */
export const UML_INSTALL_HINT = 'apt-get update && apt-get install -y user-mode-linux ipvsadm iproute2 kmod';

/** Finds Debian's UML kernel; throws with the install command when it is missing. */
export function findUml(): UmlInstall {
  const kernel = '/usr/bin/linux.uml';
  const base = '/usr/lib/uml/modules';
  if (!existsSync(kernel) || !existsSync(base)) {
    throw new Error(`User-Mode Linux is not installed (${kernel}); install it with: ${UML_INSTALL_HINT}`);
  }
  const versions = readdirSync(base).filter((v) => statSync(join(base, v)).isDirectory());
  const version = versions.sort().pop();
  if (!version) throw new Error(`no UML modules under ${base}; reinstall with: ${UML_INSTALL_HINT}`);
  for (const tool of ['/usr/sbin/modprobe', '/usr/sbin/ip', '/usr/bin/taskset']) {
    if (!existsSync(tool) && !existsSync(tool.replace('/usr', ''))) {
      throw new Error(`${tool} is missing; install it with: ${UML_INSTALL_HINT}`);
    }
  }
  return { kernel, version, modules: join(base, version) };
}

/** Options of {@link runInUml}. */
export interface UmlOptions {
  /** argv to run in the guest (looked up in PATH). */
  command: string[];
  /** Working directory in the guest (the host's path: same file system). Default: process.cwd(). */
  cwd?: string;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  /** Guest memory in MiB (default 1536). */
  memoryMB?: number;
  /** Pin UML to this host CPU (default 0; null: do not pin). Unpinned, every system call crosses CPUs. */
  cpu?: number | null;
  /** Kill the guest after this long (default 15 min). */
  timeoutMs?: number;
  /** Modules to load before the command (default: ip_vs). */
  modules?: string[];
  /** Called with the command's output (stdout and stderr, interleaved) as it arrives. */
  onOutput?: (chunk: string) => void;
  /** Keep the work directory (it holds console.log, output, status). */
  keepWorkDir?: boolean;
}

/** The outcome of {@link runInUml}. */
export interface UmlResult {
  /** The command's exit status, or -1 when the guest never reported one. */
  exitCode: number;
  /** The command's output. */
  output: string;
  /** The kernel console (boot messages, panics). */
  console: string;
  /** Wall time of the whole boot-run-poweroff, in ms. */
  wallMs: number;
}

function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Boots UML, runs `options.command` inside, powers off. */
export async function runInUml(options: UmlOptions): Promise<UmlResult> {
  const uml = findUml();
  const work = mkdtempSync(join(tmpdir(), 'ipvs-uml-'));
  const out = join(work, 'output');
  const status = join(work, 'status');
  const consoleFile = join(work, 'console.log');
  writeFileSync(out, '');
  const envLines = Object.entries(options.env ?? {})
    .map(([k, v]) => `export ${k}=${shQuote(v)}`)
    .join('\n');
  const modules = (options.modules ?? ['ip_vs']).map(shQuote).join(' ');
  const init = `#!/bin/sh
# PID 1 of a UML guest run by ipvs's test tooling (src/uml/runner.ts).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /dev/shm 2>/dev/null
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd 2>/dev/null
mkdir -p /run/netns /run/uml-modules/lib/modules
ln -s ${shQuote(uml.modules)} /run/uml-modules/lib/modules/${shQuote(uml.version)}
printf '#!/bin/sh\\nexec /usr/sbin/modprobe -d /run/uml-modules "$@"\\n' > /run/modprobe
chmod +x /run/modprobe
# The kernel's own module requests (schedulers, engines) go through it too.
echo /run/modprobe > /proc/sys/kernel/modprobe
ip link set lo up
for m in ${modules}; do /run/modprobe "$m" || echo "uml: could not load module $m" >> ${shQuote(out)}; done
export IPVS_UML_MODPROBE=/run/modprobe
${envLines}
cd ${shQuote(options.cwd ?? process.cwd())} || exit 1
${options.command.map(shQuote).join(' ')} >> ${shQuote(out)} 2>&1
echo $? > ${shQuote(status)}.tmp
mv ${shQuote(status)}.tmp ${shQuote(status)}
sync
echo o > /proc/sysrq-trigger
sleep 60
`;
  const initPath = join(work, 'init');
  writeFileSync(initPath, init, { mode: 0o755 });

  const args = [
    `mem=${options.memoryMB ?? 1536}M`,
    'rootfstype=hostfs',
    'rootflags=/',
    'rw',
    'quiet',
    `init=${initPath}`,
    'con=null',
    `con0=null,fd:1`,
  ];
  const cpu = options.cpu === undefined ? 0 : options.cpu;
  const [cmd, argv] = cpu === null ? [uml.kernel, args] : ['taskset', ['-c', String(cpu), uml.kernel, ...args]];
  const started = Date.now();
  // UML writes its memory file under TMPDIR; keep it on the host's tmpfs when there is one.
  const env = { ...process.env, TMPDIR: existsSync('/dev/shm') ? '/dev/shm' : tmpdir() };
  const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let consoleText = '';
  child.stdout.on('data', (d: Buffer) => (consoleText += d.toString()));
  child.stderr.on('data', (d: Buffer) => (consoleText += d.toString()));

  // Stream the output file as it grows.
  let offset = 0;
  let output = '';
  const pump = (): void => {
    let fd: number;
    try {
      fd = openSync(out, 'r');
    } catch {
      return;
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        const s = buf.toString('utf8', 0, n);
        output += s;
        options.onOutput?.(s);
      }
    } finally {
      closeSync(fd);
    }
  };
  const timer = setInterval(pump, 100);
  const timeoutMs = options.timeoutMs ?? 15 * 60_000;
  let timedOut = false;
  const killer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, timeoutMs);
  const exit = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  clearInterval(timer);
  clearTimeout(killer);
  pump();
  writeFileSync(consoleFile, consoleText);
  let exitCode = -1;
  if (existsSync(status)) exitCode = Number(readFileSync(status, 'utf8').trim());
  if (exitCode === -1) {
    const why = timedOut ? `timed out after ${timeoutMs} ms` : `UML exited with ${exit} and no status`;
    output += `\numl: the guest reported no exit status (${why}); console tail:\n${consoleText.split('\n').slice(-30).join('\n')}\n`;
  }
  if (!options.keepWorkDir) rmSync(work, { recursive: true, force: true });
  return { exitCode, output, console: consoleText, wallMs: Date.now() - started };
}
