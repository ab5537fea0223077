/**
 * Unloading and reloading ip_vs inside the UML guest, for the one test that
 * needs a kernel without IPVS (IpvsNotAvailableError). Module autoloading is
 * switched off meanwhile (/proc/sys/kernel/modprobe), because resolving the
 * "IPVS" family would otherwise load ip_vs again (the kernel declares
 * MODULE_ALIAS_GENL_FAMILY("IPVS")).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const MODPROBE_SYSCTL = '/proc/sys/kernel/modprobe';

interface ModuleLine {
  name: string;
  refs: number;
  users: string[];
}

function modules(): Map<string, ModuleLine> {
  const out = new Map<string, ModuleLine>();
  for (const line of readFileSync('/proc/modules', 'utf8').split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    const users = f[3] === '-' ? [] : (f[3] as string).split(',').filter(Boolean);
    out.set(f[0] as string, { name: f[0] as string, refs: Number(f[2]), users });
  }
  return out;
}

/** True when ip_vs is loaded. */
export function ipvsLoaded(): boolean {
  return modules().has('ip_vs');
}

/**
 * Removes ip_vs and every module that uses it (schedulers, the sip engine),
 * waiting for namespaces deleted by earlier tests to release them. Returns
 * the modprobe path that was in effect, for {@link restoreIpvs}.
 */
export async function unloadIpvs(timeoutMs = 60_000): Promise<string> {
  const modprobe = readFileSync(MODPROBE_SYSCTL, 'utf8').trim();
  writeFileSync(MODPROBE_SYSCTL, '\n');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mods = modules();
    const ipvs = mods.get('ip_vs');
    if (!ipvs) return modprobe;
    // Users first (depth-first: e.g. ip_vs_pe_sip before ip_vs).
    const order: string[] = [];
    const visit = (m: string): void => {
      for (const u of mods.get(m)?.users ?? []) visit(u);
      if (!order.includes(m)) order.push(m);
    };
    visit('ip_vs');
    for (const m of order) {
      try {
        execFileSync('rmmod', [m], { stdio: 'ignore' });
      } catch {
        // Still in use (a namespace being torn down): try again shortly.
      }
    }
    if (!ipvsLoaded()) return modprobe;
    if (Date.now() > deadline) {
      const left = [...modules().values()].filter((m) => order.includes(m.name)).map((m) => `${m.name}(${m.refs})`);
      throw new Error(`could not unload ip_vs: still in use: ${left.join(' ')}`);
    }
    await sleep(250);
  }
}

/** Restores module autoloading and loads ip_vs again. */
export function restoreIpvs(modprobe: string): void {
  writeFileSync(MODPROBE_SYSCTL, `${modprobe}\n`);
  execFileSync(modprobe, ['ip_vs'], { stdio: 'ignore' });
}
