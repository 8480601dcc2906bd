import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { cpuCap, cpuSecondsOf, processTree } from './cpu-quota.ts';

/** The cgroup v1 cpu hierarchy or the v2 root, if this machine lets us make cgroups there (root). */
async function cgroupRoot(t: TestContext): Promise<string | undefined> {
  try {
    const probe = cpuCap(1);
    await probe.remove();
    return dirname(probe.dir);
  } catch (err) {
    t.skip(`no cgroup cpu controller to write here: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

function busyChild(): ReturnType<typeof spawn> {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

test('a capped process gets its share of a core, not a whole one', async (t) => {
  if (!(await cgroupRoot(t))) return;
  const child = busyChild();
  const cap = cpuCap(20);
  try {
    cap.add(processTree(child.pid!));
    const before = cpuSecondsOf([child.pid!]);
    await new Promise((r) => setTimeout(r, 1500));
    const used = cpuSecondsOf([child.pid!]) - before;
    // 1/20 of a core for 1.5 s is 0.075 s; uncapped, a busy loop gets a core or most of one.
    assert.ok(used < 0.4, `a process capped at 1/20 of a core used ${used} s of CPU in 1.5 s`);
  } finally {
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    await cap.remove();
  }
});

test('a cap removes the empty cgroups a killed process left behind, and leaves a live one\'s', async (t) => {
  const root = await cgroupRoot(t);
  if (!root) return;
  const gone = spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' });
  await new Promise((r) => gone.once('exit', r));
  const orphan = join(root, `tabswarm-cap-${gone.pid}-0`);
  const alive = cpuCap(1);
  mkdirSync(orphan);
  const cap = cpuCap(2);
  try {
    assert.equal(existsSync(orphan), false, 'the dead process\'s cgroup is gone');
    assert.equal(existsSync(alive.dir), true, 'this live process\'s cgroup stays');
  } finally {
    await cap.remove();
    await alive.remove();
  }
});
