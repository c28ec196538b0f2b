// The reference bridge's simulated node health (--nodes, AGIJOBS_BRIDGE_NODES): the optional
// `nodes` field of tick responses (PROTOCOL.md, "Node reports"). Run from the repository
// root: node --test bridge/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { nodeReports, parseNodeSchedule } from '../bridge.mjs';

const BRIDGE = join(dirname(fileURLToPath(import.meta.url)), '..', 'bridge.mjs');
const HELLO = '{"op":"hello","id":"hello","protocol":1}';
const tick = (n) => JSON.stringify({ op: 'tick', id: `tick-${n}`, tick: n, seed: 7, dispatch: [], govern: [] });

function run(lines, { args = [], env = {} } = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGIJOBS_BRIDGE_')));
  const child = spawn(process.execPath, [BRIDGE, ...args], { env: { ...clean, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  child.stdin.on('error', () => {});
  child.stdin.end(lines.map((l) => `${l}\n`).join(''));
  return new Promise((resolve) => {
    child.on('close', (code) => resolve({ code, out: stdout.split('\n').filter(Boolean), stderr }));
  });
}

const SCHEDULE = 'earth.core-alpha,30,down;earth.core-alpha,60,up mars.gpu-helion,45,down';

test('each scheduled node reports its latest state at or before the tick, by node id', () => {
  const schedule = parseNodeSchedule(SCHEDULE);
  assert.deepEqual(nodeReports(schedule, 29), []);
  assert.deepEqual(nodeReports(schedule, 30), [{ node: 'earth.core-alpha', status: 'down' }]);
  assert.deepEqual(nodeReports(schedule, 50), [
    { node: 'earth.core-alpha', status: 'down' },
    { node: 'mars.gpu-helion', status: 'down' },
  ]);
  assert.deepEqual(nodeReports(schedule, 60), [
    { node: 'earth.core-alpha', status: 'up' },
    { node: 'mars.gpu-helion', status: 'down' },
  ]);
});

test('--nodes: tick responses carry `nodes` only when there is something to report, exact bytes', async () => {
  const { code, out, stderr } = await run([HELLO, tick(29), tick(30), tick(61), tick(30)], { args: ['--nodes', SCHEDULE] });
  assert.equal(code, 0, stderr);
  assert.deepEqual(out.slice(1), [
    '{"govern":[],"id":"tick-29","ok":true,"receipts":[]}',
    '{"govern":[],"id":"tick-30","nodes":[{"node":"earth.core-alpha","status":"down"}],"ok":true,"receipts":[]}',
    '{"govern":[],"id":"tick-61","nodes":[{"node":"earth.core-alpha","status":"up"},{"node":"mars.gpu-helion","status":"down"}],"ok":true,"receipts":[]}',
    // A re-sent request gets the same bytes: the answer depends on the tick alone.
    '{"govern":[],"id":"tick-30","nodes":[{"node":"earth.core-alpha","status":"down"}],"ok":true,"receipts":[]}',
  ]);
  assert.match(stderr, /node health simulated for earth\.core-alpha, mars\.gpu-helion/);
});

test('AGIJOBS_BRIDGE_NODES does the same as --nodes', async () => {
  const { out } = await run([HELLO, tick(45)], { env: { AGIJOBS_BRIDGE_NODES: SCHEDULE } });
  assert.equal(
    out[1],
    '{"govern":[],"id":"tick-45","nodes":[{"node":"earth.core-alpha","status":"down"},{"node":"mars.gpu-helion","status":"down"}],"ok":true,"receipts":[]}',
  );
});

test('a malformed node schedule: a message on stderr, exit 2, nothing on stdout', async () => {
  for (const bad of ['earth,0,down', 'earth,3', 'earth,3,sideways', ',3,down']) {
    const { code, out, stderr } = await run([HELLO], { args: ['--nodes', bad] });
    assert.equal(code, 2, bad);
    assert.deepEqual(out, [], bad);
    assert.match(stderr, /node schedule: `.*` is not NODE,TICK,down\|up/, bad);
  }
});
