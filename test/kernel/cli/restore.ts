/**
 * `ipvs restore`: the end state equals the file (as `ipvsadm -S -n` shows
 * it) whatever the kernel held before, reached by a diff (no flush);
 * malformed files change nothing; refusals are reported per line; and
 * `ipvs -R` replays like `ipvsadm -R`.
 */
import t from 'tap';
import { withNetns, type Netns } from '../harness';
import { IPVS, asIpvs, shown, stateOf } from '../cli-helpers';
import { corpus } from '../cli-corpus';


/** Loads ipvsadm command lines with ipvsadm itself. */
async function load(ns: Netns, lines: readonly string[]): Promise<void> {
  const r = await ns.exec('ipvsadm -R', `${lines.join('\n')}\n`);
  if (r.code !== 0) throw new Error(`ipvsadm -R failed (${r.code}): ${r.stderr}`);
}

/** One service's lines of `ipvsadm -L -n --nosort` (real servers newest first: deleting and re-adding one would move it). */
async function kernelOrder(ns: Netns, service: string): Promise<string> {
  const lines = (await ns.sh('ipvsadm -L -n --nosort')).split('\n');
  const i = lines.findIndex((l) => l.startsWith(service));
  if (i < 0) throw new Error(`${service} is not listed`);
  let j = i + 1;
  while (j < lines.length && (lines[j] as string).startsWith('  ->')) j++;
  return lines.slice(i, j).join('\n');
}

/**
 * A rule set that differs from the corpus's saved form `file` everywhere it
 * can: services missing, added, rescheduled, made persistent; real servers
 * missing, added, reweighted, switched to NAT. Returns the lines.
 */
function different(file: string): string[] {
  const lines = file.trimEnd().split('\n');
  const out: string[] = [];
  let svc = 0;
  let dest = 0;
  let skipService = false;
  for (const l of lines) {
    if (l.startsWith('-A')) {
      svc++;
      skipService = svc % 7 === 3; // restore must add these back
      if (skipService) continue;
      if (svc % 5 === 1) out.push(l.replace(/ -s \S+/, ' -s lblcr').replace(/ -b \S*/, '')); // restore must edit these in place
      else if (svc % 11 === 2 && !l.includes(' -p')) out.push(`${l} -p 42`);
      else out.push(l);
      if (svc % 4 === 0) out.push(l.replace(/^-A (\S+ \S+(?: -6)?).*$/, '-a $1 -r 192.0.2.222:0 -m -w 9').replace(/-r 192.0.2.222:0 -m/, '-r 192.0.2.222 -i'));
      continue;
    }
    if (skipService) continue;
    dest++;
    if (dest % 6 === 0) continue; // restore must add these back
    if (dest % 6 === 1) out.push(l.replace(/-w \d+/, '-w 12345')); // reweighted: edited in place
    else out.push(l);
  }
  // Services the file does not have: restore deletes them.
  out.push('-A -t 192.0.2.99:9999 -s rr', '-a -t 192.0.2.99:9999 -r 198.51.100.99:9999 -m', '-A -f 424242 -s wlc');
  return out;
}

// The parts of the corpus whose saved form is the same in every namespace and that ipvsadm-save can write.
const SAVEABLE = { wrapping: false, unsaveable: false };

t.test('the corpus restored over a different rule set gives back exactly the file', async (t) => {
  await withNetns(async (a) => {
    await load(a, corpus(SAVEABLE));
    // ipvsadm -S -n as it is, fwmarks of 2^31 and more printed negative included.
    const file = await a.sh('ipvsadm -S -n');
    await withNetns(async (b) => {
      const before = different(asIpvs(file));
      await load(b, before);
      const startState = await b.sh('ipvsadm -S -n');
      t.not(startState, file, 'the kernel starts different');
      const dry = await b.exec(`${IPVS} restore --dry-run`, file);
      t.equal(dry.code, 0, 'dry run succeeds');
      t.match(dry.stdout, /^\+ -A /m, 'the plan adds services');
      t.match(dry.stdout, /^~ -E /m, 'the plan edits services in place');
      t.match(dry.stdout, /^~ -e /m, 'the plan edits real servers in place');
      t.match(dry.stdout, /^- -d /m, 'the plan removes real servers');
      t.match(dry.stdout, /^- -D -t 192\.0\.2\.99:9999$/m, 'the plan deletes what the file lacks');
      const plan = dry.stdout.split('\n');
      const firstRemoval = plan.findIndex((l) => l.startsWith('- '));
      const lastAdd = plan.map((l) => l.startsWith('+ ')).lastIndexOf(true);
      t.ok(lastAdd < firstRemoval, 'every addition comes before every removal');
      t.equal(await b.sh('ipvsadm -S -n'), startState, 'a dry run changes nothing');

      const r = await b.exec(`${IPVS} restore`, file);
      t.same(shown(r), { code: 0, stdout: '', stderr: '' }, 'restore succeeds quietly');
      t.equal(await b.sh('ipvsadm -S -n'), file, 'ipvsadm -S -n shows exactly the file');

      const again = await b.exec(`${IPVS} restore --dry-run`, file);
      t.equal(
        again.stdout,
        '# services: 0 to add, 0 to edit, 0 to delete; real servers: 0 to add, 0 to edit, 0 to delete; ' +
          `${file.split('\n').filter((l) => l !== '').length} unchanged\n`,
        'a second restore has nothing to do',
      );
    });
  });
});

t.test('save --full of the whole corpus restores to the same state', async (t) => {
  await withNetns(async (a) => {
    await load(a, corpus({ wrapping: false }));
    const full = await a.sh(`${IPVS} save --full -n`);
    await withNetns(async (b) => {
      await load(b, different(asIpvs(await a.sh('ipvsadm -S -n'))));
      const r = await b.exec(`${IPVS} restore`, full);
      t.same(shown(r), { code: 0, stdout: '', stderr: '' });
      t.equal(await b.sh(`${IPVS} save --full -n`), full, 'save --full gives back the file');
      t.equal(await stateOf(b), await stateOf(a), 'and ipvsadm sees the same state, thresholds and flags included');
    });
  });
});

t.test('unchanged services and real servers are not touched; changes happen in place', async (t) => {
  await withNetns(async (ns) => {
    await load(ns, [
      '-A -t 192.0.2.1:80 -s rr',
      '-a -t 192.0.2.1:80 -r 198.51.100.2 -m',
      '-a -t 192.0.2.1:80 -r 198.51.100.3 -m',
      '-a -t 192.0.2.1:80 -r 198.51.100.4 -m',
      '-A -t 192.0.2.2:80 -s rr',
      '-a -t 192.0.2.2:80 -r 198.51.100.2 -m -w 1',
      '-a -t 192.0.2.2:80 -r 198.51.100.3 -m -w 1',
    ]);
    const unchangedBefore = await kernelOrder(ns, 'TCP  192.0.2.1:80 ');
    const file = [
      '-A -t 192.0.2.1:80 -s rr',
      '-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m -w 1',
      '-a -t 192.0.2.1:80 -r 198.51.100.3:80 -m -w 1',
      '-a -t 192.0.2.1:80 -r 198.51.100.4:80 -m -w 1',
      '-A -t 192.0.2.2:80 -s wlc',
      '-a -t 192.0.2.2:80 -r 198.51.100.2:80 -m -w 5',
      '-a -t 192.0.2.2:80 -r 198.51.100.9:80 -m -w 1',
      '',
    ].join('\n');
    const dry = await ns.exec(`${IPVS} restore --dry-run -`, file);
    t.equal(
      dry.stdout,
      [
        '+ -a -t 192.0.2.2:80 -r 198.51.100.9:80 -m -w 1',
        '~ -E -t 192.0.2.2:80 -s wlc',
        '~ -e -t 192.0.2.2:80 -r 198.51.100.2:80 -m -w 5',
        '- -d -t 192.0.2.2:80 -r 198.51.100.3:80',
        '# services: 0 to add, 1 to edit, 0 to delete; real servers: 1 to add, 1 to edit, 1 to delete; 4 unchanged',
        '',
      ].join('\n'),
      'the plan: add first, edit in place, remove last; nothing for the unchanged service',
    );
    const r = await ns.exec(`${IPVS} restore`, file);
    t.equal(r.code, 0);
    t.equal(await kernelOrder(ns, 'TCP  192.0.2.1:80 '), unchangedBefore, 'the unchanged service keeps its real servers in kernel order');
    const after = await kernelOrder(ns, 'TCP  192.0.2.2:80 ');
    // Real servers are listed newest first: 198.51.100.2 was edited, not re-added, so it stays last.
    t.match(after, /TCP {2}192\.0\.2\.2:80 wlc\n {2}-> 198\.51\.100\.9:80 .*\n {2}-> 198\.51\.100\.2:80 +Masq +5 /, 'the edited server kept its place');
    t.equal(await ns.sh('ipvsadm -S -n'), file, 'the end state is the file');
  });
});

t.test('a malformed file changes nothing and names every bad line', async (t) => {
  await withNetns(async (ns) => {
    await load(ns, corpus().slice(0, 40));
    const before = await stateOf(ns);
    const file = [
      '# a comment',
      '-A -t 192.0.2.1:80 -s rr',
      '-a -t 192.0.2.1:80 -r 198.51.100.2 -m -w 99999999999',
      '-a -t 192.0.2.7:80 -r 198.51.100.2 -m',
      '',
      '-A -t 192.0.2.1:80 -s wlc',
      '-A -t 192.0.2.3:80 -s rr --bogus',
      '-D -t 192.0.2.1:80',
      '-a -t 192.0.2.1:80 -r 198.51.100.4 -m -x 1 -y 9',
      '-A -t 192.0.2.4 -s rr',
    ].join('\n');
    const r = await ns.exec(`${IPVS} restore`, file);
    t.equal(r.code, 2, 'exit status 2');
    t.equal(r.stdout, '');
    t.equal(
      r.stderr,
      [
        'ipvs restore: line 3: illegal weight specified',
        'ipvs restore: line 4: service tcp 192.0.2.7:80 has no -A line in this file',
        'ipvs restore: line 6: service tcp 192.0.2.1:80 is already defined at line 2',
        'ipvs restore: line 7: --bogus: unknown option',
        "ipvs restore: line 8: '-D' is not a rule (a restore file holds -A, -a, --set and --start-daemon lines)",
        'ipvs restore: line 9: the lower threshold (-y 9) must not exceed the upper threshold (-x 1); the kernel refuses it',
        'ipvs restore: line 10: Zero port specified for non-persistent service',
        'ipvs restore: 7 error(s); nothing was changed',
        '',
      ].join('\n'),
    );
    t.equal(await stateOf(ns), before, 'the kernel is exactly as it was');
  });
});

t.test('kernel refusals are reported with their line; the rest is applied', async (t) => {
  await withNetns(async (ns) => {
    const file = [
      '-A -t 192.0.2.1:80 -s rr',
      '-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m -w 1',
      '-A -t 192.0.2.2:80 -s nosuchscheduler',
      '-a -t 192.0.2.2:80 -r 198.51.100.3:80 -m -w 1',
      '-a -t 192.0.2.1:80 -r 224.0.0.1:80 -m -w 1',
      '',
    ].join('\n');
    const r = await ns.exec(`${IPVS} restore`, file);
    t.equal(r.code, 255, 'exit status 255');
    t.match(r.stderr, /^ipvs restore: line 3: -A -t 192\.0\.2\.2:80 -s nosuchscheduler: scheduler 'nosuchscheduler' is not available/m);
    t.match(r.stderr, /^ipvs restore: line 4: -a -t 192\.0\.2\.2:80 -r 198\.51\.100\.3:80 -m -w 1: service tcp 192\.0\.2\.2:80 does not exist/m);
    t.match(r.stderr, /^ipvs restore: line 5: -a -t 192\.0\.2\.1:80 -r 224\.0\.0\.1:80 -m -w 1: /m);
    t.equal(await ns.sh('ipvsadm -S -n'), '-A -t 192.0.2.1:80 -s rr\n-a -t 192.0.2.1:80 -r 198.51.100.2:80 -m -w 1\n', 'the accepted lines are applied');
  });
});

t.test('reads ipvsadm-save output with names, comments, blank lines, CRLF and ipvsadm words', async (t) => {
  await withNetns(async (a) => {
    await load(a, corpus(SAVEABLE));
    const numeric = await a.sh('ipvsadm -S -n');
    const named = await a.sh('ipvsadm-save');
    await withNetns(async (b) => {
      const decorated = `# saved by ipvsadm-save\n\n${named
        .split('\n')
        .map((l, i) => (i % 3 === 0 && l ? `ipvsadm ${l}\r` : l))
        .join('\n')}\n# end\n`;
      const r = await b.exec(`${IPVS} restore`, decorated);
      t.same(shown(r), { code: 0, stdout: '', stderr: '' });
      t.equal(await b.sh('ipvsadm -S -n'), numeric, 'the same rules as the numeric save');
    });
  });
});

t.test('save --full keeps thresholds, timeouts and daemons, as lines ipvsadm accepts', async (t) => {
  const rules = [
    '-A -t 192.0.2.1:80 -s wlc -p 120',
    '-a -t 192.0.2.1:80 -r 198.51.100.2 -m -w 3 -x 100 -y 20',
    '-a -t 192.0.2.1:80 -r 198.51.100.3 -g -x 7',
    '-A -u [2001:db8::1]:53 -s sh',
    '-a -u [2001:db8::1]:53 -r [2001:db8:1::2]:53 -m -y 0 -x 4',
    '--set 1234 56 78',
    '--start-daemon master --mcast-interface dummy0 --syncid 9 --mcast-group 239.0.0.9 --mcast-port 8999 --mcast-ttl 2',
    '--start-daemon backup --mcast-interface dummy0 --syncid 10',
  ];
  await withNetns(async (a) => {
    await load(a, rules);
    const full = await a.sh(`${IPVS} save --full -n`);
    t.match(full, /^--set 1234 56 78$/m);
    t.match(full, /-x 100 -y 20$/m);
    t.match(full, /^--start-daemon master --mcast-interface dummy0 --syncid 9 .*--mcast-group 239\.0\.0\.9 --mcast-port 8999 --mcast-ttl 2$/m);
    t.equal(await a.sh(`${IPVS} save -n`), await a.sh('ipvsadm-save -n'), 'without --full: exactly ipvsadm-save');
    await withNetns(async (b) => {
      const r = await b.exec(`${IPVS} restore`, full);
      t.same(shown(r), { code: 0, stdout: '', stderr: '' });
      t.equal(await stateOf(b), await stateOf(a), 'restore brings back rules, thresholds, timeouts and daemons');
      t.equal(await b.sh(`${IPVS} save --full -n`), full);
    });
    await withNetns(async (c) => {
      // The file stays portable: ipvsadm-restore reads it.
      const r = await c.exec('ipvsadm-restore', full);
      t.equal(r.code, 0, `ipvsadm-restore accepts it: ${r.stderr}`);
      t.equal(await stateOf(c), await stateOf(a), 'and ends in the same state');
    });
  });
});

t.test('ipvs -R replays like ipvsadm -R: additive, same messages, same status', async (t) => {
  const inputs = [
    // kernel refusals go on; the status is the last line's
    ['-A -t 192.0.2.1:80 -s rr', '-A -t 192.0.2.1:80 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.2 -m', '-a -t 192.0.2.9:80 -r 198.51.100.2 -m', '-L -n', '-e -t 192.0.2.1:80 -r 198.51.100.2 -m -w 4 -x 1 -y 2', '-Z'],
    ['-A -t 192.0.2.1:80 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.2 -m', '-a -t 192.0.2.1:80 -r 198.51.100.3 -m -x 1 -y 3'],
    // a usage error stops the replay; what came before stays
    ['-A -t 192.0.2.1:80 -s rr', '-a -t 192.0.2.1:80 -r 198.51.100.2 -m', '-a -t 192.0.2.1:80 -r 198.51.100.3 -m -w x', '-A -t 192.0.2.2:80'],
    // popt errors end only their line
    ['-A -t 192.0.2.1:80 -s rr', '-L -n --bogus', '-a -t 192.0.2.1:80 -r 198.51.100.2 -m', '-S -n'],
    // ipvsadm words, blank lines, tabs, CRs, -C, --set, daemons, deletes
    ['ipvsadm -A -t 192.0.2.1:80 -s rr', '', '  \t', '-a\t-t 192.0.2.1:80 -r 198.51.100.2 -m\r', '--set 10 20 30', '-C', '-A -u 192.0.2.5:53 -s sh', '--start-daemon master --mcast-interface dummy0', '--start-daemon master --mcast-interface dummy0', '-d -u 192.0.2.5:53 -r 198.51.100.4', '-D -u 192.0.2.5:53', '-L --daemon'],
    // a nested -R, then nothing more
    ['-A -t 192.0.2.1:80 -s rr', '-R', '-A -t 192.0.2.2:80 -s rr'],
    // the corpus (without services whose order depends on the namespace)
    corpus({ wrapping: false }),
  ];
  for (const lines of inputs) {
    const input = `${lines.join('\n')}\n`;
    await withNetns(async (a) => {
      await withNetns(async (b) => {
        const ra = await a.exec('ipvsadm -R', input);
        const rb = await b.exec(`${IPVS} -R`, input);
        const want = shown(ra);
        want.stderr = asIpvs(want.stderr);
        want.stdout = asIpvs(want.stdout);
        t.same(shown(rb), want, `same output and status: ${lines[0]} ... (${lines.length} lines)`);
        t.equal(await stateOf(b), await stateOf(a), 'same end state');
      });
    });
  }
});
