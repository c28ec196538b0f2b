// Tests for the reference bridge (bridge.mjs) and the tiny Python bridge, as child processes
// speaking protocol 1 over stdin/stdout. Run from the repository root: node --test bridge/test/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonical, receiptText } from '../bridge.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const BRIDGE = join(HERE, '..', 'bridge.mjs');
const TINY = join(HERE, '..', 'tiny_bridge.py');
const PYTHON = process.env.PYTHON ?? 'python3';
const HAS_PYTHON = spawnSync(PYTHON, ['--version']).status === 0;

const TMP = mkdtempSync(join(tmpdir(), 'agijobs-bridge-test-'));
process.on('exit', () => rmSync(TMP, { recursive: true, force: true }));

const HELLO = '{"op":"hello","id":"hello","protocol":1}';
const HELLO_OK = '{"id":"hello","name":"agijobs-reference-bridge","ok":true,"protocol":1,"version":"1.0.0"}';

/** A clean environment: no test hook leaks in from the caller's. */
function cleanEnv(extra = {}) {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('AGIJOBS_BRIDGE_')) delete env[key];
  return { ...env, ...extra };
}

/**
 * Run a bridge over `lines` (strings are sent as is, objects as JSON), close stdin, and
 * collect everything: { code, out (stdout lines), stderr }.
 */
function run(lines, { args = [], env = {}, python = false, timeout = 5000 } = {}) {
  const [cmd, argv] = python ? [PYTHON, [TINY, ...args]] : [process.execPath, [BRIDGE, ...args]];
  const child = spawn(cmd, argv, { env: cleanEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
  child.stdin.on('error', () => {}); // a bridge that exits early (exit 2, crash hook)
  child.stdin.end(lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l)) + '\n').join(''));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`bridge did not exit within ${timeout} ms; stderr: ${stderr}`));
    }, timeout);
    child.on('close', (code) => {
      clearTimeout(timer);
      const out = stdout === '' ? [] : stdout.replace(/\n$/, '').split('\n');
      resolve({ code, out, stdout, stderr });
    });
  });
}

const dispatch = (job, extra = {}) => ({
  job,
  node: 'earth.core-alpha',
  shard: 'earth',
  skills: ['finance'],
  duration: 3,
  value: 2500,
  attempt: 1,
  ...extra,
});
const tick = (n, d = [], g = []) => ({ op: 'tick', id: `tick-${n}`, tick: n, seed: 7, dispatch: d, govern: g });
const PAUSE = { command: 'pause-all', args: {}, reason: 'INC-4711: poisoned batch', actor: 'alice', source: 'schedule' };
const sha16 = (text) => createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 16);

function rulesFile(name, doc) {
  const path = join(TMP, name);
  writeFileSync(path, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return path;
}

async function answersWithRules(rules, requests) {
  const { code, out, stderr } = await run([HELLO, ...requests], { args: ['--rules', rulesFile(`r${Math.random()}.json`, rules)] });
  assert.equal(code, 0, stderr);
  return out.slice(1).map((l) => JSON.parse(l));
}

// ------------------------------------------------------------------ handshake and ticks

test('handshake: hello answers with name, version and protocol, exact bytes', async () => {
  const { code, out } = await run([HELLO]);
  assert.equal(code, 0);
  assert.deepEqual(out, [HELLO_OK]);
});

test('hello with another protocol is refused, naming both versions', async () => {
  const { out } = await run(['{"op":"hello","id":"hello","protocol":2}', tick(1, [dispatch('j')])]);
  assert.equal(out[0], '{"error":"unsupported protocol 2; this bridge speaks 1","id":"hello","ok":false,"protocol":1}');
  assert.equal(JSON.parse(out[1]).error, 'handshake required: send hello first');
});

test('a tick before hello is refused', async () => {
  const { out } = await run([tick(1, [dispatch('j')]), HELLO, tick(1, [dispatch('j')])]);
  assert.deepEqual(JSON.parse(out[0]), { id: 'tick-1', ok: false, error: 'handshake required: send hello first' });
  assert.equal(JSON.parse(out[2]).ok, true);
});

test('a tick with 3 dispatches and 1 command: 3 default receipts in order, and the payload', async () => {
  const jobs = [dispatch('earth-finance-000042'), dispatch('mars-gpu-000007', { node: 'mars.gpu-helion', skills: ['gpu'], attempt: 2 }), dispatch('luna-nav-000001', { node: 'luna.nav-station' })];
  const { out } = await run([HELLO, tick(120, jobs, [PAUSE])]);
  const answer = JSON.parse(out[1]);
  assert.deepEqual(answer.receipts, [
    { job: 'earth-finance-000042', attempt: 1, status: 'accepted' },
    { job: 'mars-gpu-000007', attempt: 2, status: 'accepted' },
    { job: 'luna-nav-000001', attempt: 1, status: 'accepted' },
  ]);
  // The nonce is sha256 of the command's canonical JSON (sorted keys, no spaces), 16 hex.
  const canonicalPause = '{"actor":"alice","args":{},"command":"pause-all","reason":"INC-4711: poisoned batch","source":"schedule"}';
  assert.deepEqual(answer.govern, [
    {
      command: 'pause-all',
      payload: { to: 'fabric-governor', method: 'pause-all', params: {}, memo: 'INC-4711: poisoned batch', nonce: sha16(canonicalPause) },
    },
  ]);
  // Default receipts carry nothing else, and the line is canonical JSON.
  assert.equal(out[1], canonical(answer));
  assert.match(out[1], /"receipts":\[\{"attempt":1,"job":"earth-finance-000042","status":"accepted"\},/);
});

test('empty dispatch and govern lists give empty lists', async () => {
  const { out } = await run([HELLO, tick(5)]);
  assert.equal(out[1], '{"govern":[],"id":"tick-5","ok":true,"receipts":[]}');
});

test('the same request twice gives identical bytes (idempotent)', async () => {
  const rules = rulesFile('idem.json', { fail: { fraction: 0.5 }, slow: [{ skill: 'finance', factor: 2 }] });
  const request = JSON.stringify(tick(9, Array.from({ length: 50 }, (_, i) => dispatch(`job-${i}`)), [PAUSE]));
  const { out } = await run([HELLO, request, request, HELLO, request], { args: ['--rules', rules] });
  assert.equal(out[1], out[2]);
  assert.equal(out[1], out[4]);
  assert.equal(out[0], out[3]);
});

// ------------------------------------------------------------------ rules

test('rules: reject by skill and by node, with the given or a default reason', async () => {
  const rules = { reject: [{ skill: 'gpu', reason: 'skill gpu is quarantined' }, { node: 'mars.regolith-cradle', reason: 'node under maintenance' }, { node: 'luna.nav-station' }] };
  const [answer] = await answersWithRules(rules, [
    tick(1, [
      dispatch('a', { skills: ['vision', 'gpu'] }),
      dispatch('b', { node: 'mars.regolith-cradle', skills: ['manufacturing'], attempt: 3 }),
      dispatch('c'),
      dispatch('d', { node: 'luna.nav-station' }),
    ]),
  ]);
  assert.deepEqual(answer.receipts, [
    { job: 'a', attempt: 1, status: 'rejected', reason: 'skill gpu is quarantined' },
    { job: 'b', attempt: 3, status: 'rejected', reason: 'node under maintenance' },
    { job: 'c', attempt: 1, status: 'accepted' },
    { job: 'd', attempt: 1, status: 'rejected', reason: 'node luna.nav-station is rejected by the rules' },
  ]);
});

test('rules: a rule with skill and node matches only when both do', async () => {
  const [answer] = await answersWithRules({ reject: [{ skill: 'gpu', node: 'x', reason: 'both' }] }, [
    tick(1, [dispatch('a', { skills: ['gpu'] }), dispatch('b', { node: 'x' }), dispatch('c', { node: 'x', skills: ['gpu'] })]),
  ]);
  assert.deepEqual(answer.receipts.map((r) => r.status), ['accepted', 'accepted', 'rejected']);
});

test('rules: slow by factor (rounded up) and by fixed duration; no change is a default receipt', async () => {
  const rules = { slow: [{ skill: 'manufacturing', factor: 2 }, { skill: 'odd', factor: 1.5 }, { skill: 'tenth', factor: 1.1 }, { node: 'luna.nav-station', duration: 9 }, { skill: 'same', factor: 1 }] };
  const [answer] = await answersWithRules(rules, [
    tick(1, [
      dispatch('a', { skills: ['manufacturing'], duration: 5 }),
      dispatch('b', { skills: ['odd'], duration: 3 }),
      dispatch('c', { skills: ['tenth'], duration: 10 }),
      dispatch('d', { node: 'luna.nav-station', duration: 4 }),
      dispatch('e', { skills: ['same'] }),
      dispatch('f', { node: 'luna.nav-station', duration: 9 }),
    ]),
  ]);
  assert.deepEqual(answer.receipts, [
    { job: 'a', attempt: 1, status: 'accepted', duration: 10 },
    { job: 'b', attempt: 1, status: 'accepted', duration: 5 },
    { job: 'c', attempt: 1, status: 'accepted', duration: 11 },
    { job: 'd', attempt: 1, status: 'accepted', duration: 9 },
    { job: 'e', attempt: 1, status: 'accepted' },
    { job: 'f', attempt: 1, status: 'accepted' },
  ]);
});

test('rules: fail rejects a seeded, deterministic fraction of dispatches', async () => {
  const rules = { fail: { fraction: 0.1, seed: 42, reason: 'simulated executor failure' } };
  const jobs = Array.from({ length: 1000 }, (_, i) => dispatch(`earth-finance-${String(i).padStart(6, '0')}`, { attempt: 1 + (i % 3) }));
  const [first] = await answersWithRules(rules, [tick(1, jobs)]);
  const [second] = await answersWithRules(rules, [tick(2, jobs)]); // another process, another tick
  assert.deepEqual(first.receipts, second.receipts);
  const failed = first.receipts.filter((r) => r.status === 'rejected');
  assert.ok(failed.length > 70 && failed.length < 130, `${failed.length} of 1000 failed`);
  assert.ok(failed.every((r) => r.reason === 'simulated executor failure'));
  // Exactly the documented draw: sha256("seed:job:attempt"), first 8 hex digits / 2^32.
  const draw = (d) => parseInt(createHash('sha256').update(`42:${d.job}:${d.attempt}`).digest('hex').slice(0, 8), 16) / 2 ** 32;
  assert.deepEqual(failed.map((r) => r.job), jobs.filter((d) => draw(d) < 0.1).map((d) => d.job));
  // Without a seed in the rules, the tick's seed is used: another seed, other jobs.
  const [unseeded] = await answersWithRules({ fail: { fraction: 0.1 } }, [tick(1, jobs)]);
  const seven = (d) => parseInt(createHash('sha256').update(`7:${d.job}:${d.attempt}`).digest('hex').slice(0, 8), 16) / 2 ** 32;
  assert.deepEqual(unseeded.receipts.filter((r) => r.status === 'rejected').map((r) => r.job), jobs.filter((d) => seven(d) < 0.1).map((d) => d.job));
});

test('rules: the first matching rule wins, in the order reject, fail, slow', async () => {
  const rules = { reject: [{ skill: 'gpu', reason: 'quarantined' }], fail: { fraction: 1, reason: 'always' }, slow: [{ skill: 'gpu', factor: 3 }] };
  const [answer] = await answersWithRules(rules, [tick(1, [dispatch('a', { skills: ['gpu'] }), dispatch('b')])]);
  assert.deepEqual(answer.receipts.map((r) => r.reason), ['quarantined', 'always']);
  const [slowed] = await answersWithRules({ fail: { fraction: 0 }, slow: [{ skill: 'finance', factor: 3 }] }, [tick(1, [dispatch('b')])]);
  assert.deepEqual(slowed.receipts, [{ job: 'b', attempt: 1, status: 'accepted', duration: 9 }]);
});

test('the example rules file loads and applies', async () => {
  const jobs = [
    dispatch('mars-gpu-000001', { node: 'helios.solaris-array', skills: ['gpu', 'astronomy'] }),
    dispatch('mars-foundry-000001', { node: 'mars.regolith-cradle', skills: ['manufacturing', 'terraforming'], duration: 5 }),
    dispatch('luna-nav-000002', { node: 'luna.nav-station', skills: ['navigation'], duration: 4 }),
  ];
  const { code, out, stderr } = await run([HELLO, tick(1, jobs)], { args: ['--rules', join(HERE, '..', 'rules.example.json')] });
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(out[1]).receipts, [
    { job: 'mars-gpu-000001', attempt: 1, status: 'rejected', reason: 'skill gpu is quarantined' },
    { job: 'mars-foundry-000001', attempt: 1, status: 'accepted', duration: 10 },
    { job: 'luna-nav-000002', attempt: 1, status: 'accepted', duration: 9 },
  ]);
});

test('a bad rules file or argument: a message on stderr, exit 2, nothing on stdout', async () => {
  const cases = [
    ['missing', null, /cannot read rules file .*no such file/],
    ['not-json.json', '{"reject": [', /not valid JSON/],
    ['list.json', '[]', /rules: must be an object/],
    ['typo.json', { rejects: [] }, /unknown key `rejects`/],
    ['noselector.json', { reject: [{ reason: 'x' }] }, /reject\[0\]: needs `skill` or `node`/],
    ['badfactor.json', { slow: [{ skill: 'a', factor: -1 }] }, /slow\[0\]\.factor/],
    ['both.json', { slow: [{ skill: 'a', factor: 2, duration: 3 }] }, /exactly one of `factor` and `duration`/],
    ['fraction.json', { fail: { fraction: 1.5 } }, /fail\.fraction/],
  ];
  for (const [name, doc, message] of cases) {
    const path = doc === null ? join(TMP, 'does-not-exist.json') : rulesFile(name, doc);
    const { code, stdout, stderr } = await run([HELLO], { args: ['--rules', path] });
    assert.equal(code, 2, name);
    assert.equal(stdout, '', name);
    assert.match(stderr, message, name);
  }
  const unknown = await run([HELLO], { args: ['--frobnicate'] });
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown argument `--frobnicate`/);
});

test('--name sets the name in hello', async () => {
  const { out } = await run([HELLO], { args: ['--name', 'acme-executor'] });
  assert.equal(JSON.parse(out[0]).name, 'acme-executor');
});

// ------------------------------------------------------------------ errors

test('a malformed line: ok false naming the line, and the bridge keeps serving', async () => {
  const { code, out } = await run([HELLO, '{"op": "tick", "id": ', '', tick(1, [dispatch('a')])]);
  assert.equal(code, 0);
  const error = JSON.parse(out[1]);
  assert.equal(error.id, null);
  assert.equal(error.ok, false);
  assert.match(error.error, /^line 2: invalid JSON \(.+\)$/);
  assert.equal(out.length, 3); // the blank line 3 gets no answer
  assert.equal(JSON.parse(out[2]).ok, true);
});

test('requests that are not objects with a string id, and unknown ops', async () => {
  const { out } = await run([HELLO, '[1,2]', '{"op":"hello"}', '{"op":"frobnicate","id":"x1"}', '{"id":"x2"}']);
  assert.deepEqual(out.slice(1).map((l) => JSON.parse(l)), [
    { id: null, ok: false, error: 'line 2: a request must be a JSON object with a string `id`' },
    { id: null, ok: false, error: 'line 3: a request must be a JSON object with a string `id`' },
    { id: 'x1', ok: false, error: 'unknown op `frobnicate`' },
    { id: 'x2', ok: false, error: 'unknown op `null`' },
  ]);
});

test('an ill-formed tick is refused, naming the field', async () => {
  const { out } = await run([
    HELLO,
    { ...tick(1), dispatch: {} },
    tick(2, [dispatch('a'), dispatch('b', { attempt: 0 })]),
    tick(3, [dispatch('a', { skills: 'gpu' })]),
    tick(4, [], [{ ...PAUSE, args: [] }]),
    { ...tick(5), seed: 'seven' },
    { op: 'tick', id: 'tick-6', seed: 7, dispatch: [], govern: [] },
  ]);
  assert.deepEqual(out.slice(1).map((l) => JSON.parse(l).error), [
    'tick: `dispatch` must be a list',
    'tick: dispatch[1]: `attempt` must be an integer >= 1',
    'tick: dispatch[0]: `skills` must be a list of strings',
    'tick: govern[0]: `args` must be an object',
    'tick: `seed` must be an integer',
    'tick: `tick` must be an integer',
  ]);
});

test('EOF: the bridge exits 0 (with and without requests)', async () => {
  assert.equal((await run([])).code, 0);
  const { code, out } = await run([HELLO, tick(1, [dispatch('a')])]);
  assert.equal(code, 0);
  assert.equal(out.length, 2);
});

// ------------------------------------------------------------------ canonical JSON

test('receipts written directly are the canonical JSON of the receipt', () => {
  for (const r of [
    { job: 'a', attempt: 1, status: 'accepted' },
    { job: 'b"\\é😀\n', attempt: 12, status: 'accepted', duration: 4 },
    { job: 'c', attempt: 2, status: 'rejected', reason: 'skill "gpu" is quarantined' },
  ]) {
    assert.equal(receiptText(r), canonical(r));
  }
});

// Governance args with numbers and strings where JavaScript and Python differ by default.
const TRICKY = String.raw`{"op":"tick","id":"tick-7","tick":7,"seed":7,"dispatch":[],"govern":[{"command":"register-node","args":{"node":{"id":"mars.new","price_per_job":0.00072,"slots":14,"ratio":1.0,"big":123456789012345678901234567890,"tiny":1e-7,"huge":1e16,"exp":2E3,"neg":-0.0,"negint":-0,"list":[1.5,-2,true,false,null]},"z":"é\u2028😀\"\\\t\u0001","\ud83d\ude00":1,"\uffff":2,"a":{"b":{"c":[]}}},"reason":"add a node — ünïcode","actor":"alice","source":"live","issued_at":"2025-01-01T00:00:00Z","id":"cmd-1"},{"command":"pause-all","args":{},"reason":"r","actor":"bob","source":"schedule","issued_at":null,"id":null}]}`;

test('governance payloads keep Python\'s numbers and code-point key order', async () => {
  const { out } = await run([HELLO, TRICKY]);
  const expected =
    '{"a":{"b":{"c":[]}},"node":{"big":123456789012345678901234567890,"exp":2000.0,"huge":1e+16,"id":"mars.new",' +
    '"list":[1.5,-2,true,false,null],"neg":-0.0,"negint":0,"price_per_job":0.00072,"ratio":1.0,"slots":14,"tiny":1e-07},' +
    '"z":"é\u2028😀\\"\\\\\\t\\u0001","\uffff":2,"😀":1}';
  assert.ok(out[1].includes(`"params":${expected}`), out[1]);
});

test('the tiny Python bridge gives the same answers, byte for byte', { skip: !HAS_PYTHON && 'no python3' }, async () => {
  const requests = [
    '{"op":"tick","id":"early","tick":1,"seed":7,"dispatch":[],"govern":[]}',
    '{"op":"hello","id":"hello","protocol":3}',
    HELLO,
    tick(1, [dispatch('earth-finance-000042'), dispatch('mars-gpu-000001', { attempt: 3, skills: ['gpu', 'vision'] })], [PAUSE]),
    tick(2),
    TRICKY,
    '{"op":"frobnicate","id":"u"}',
    '{"op":7,"id":"v"}',
    '{"id":5}',
    '',
    HELLO,
    tick(3, Array.from({ length: 300 }, (_, i) => dispatch(`job-ü-${i}`, { attempt: 1 + (i % 4) })), [PAUSE, { ...PAUSE, command: 'resume', reason: 'ok' }]),
  ];
  const node = await run(requests, { args: ['--name', 'agijobs-tiny-bridge'] });
  const python = await run(requests, { python: true });
  assert.equal(python.code, 0, python.stderr);
  assert.equal(node.out.length, requests.length - 1);
  assert.deepEqual(python.out, node.out);
});

test('the tiny Python bridge reports malformed lines and exits 0 at EOF', { skip: !HAS_PYTHON && 'no python3' }, async () => {
  const { code, out } = await run([HELLO, 'this is {not json', '{"op":"hello","id":"h","protocol":1}'], { python: true });
  assert.equal(code, 0);
  assert.match(JSON.parse(out[1]).error, /^line 2: invalid JSON \(.+\)$/);
  assert.equal(JSON.parse(out[2]).ok, true);
});

// ------------------------------------------------------------------ test hooks

test('hook AGIJOBS_BRIDGE_CRASH_AT_TICK: exits 1 before answering tick N, only once with a marker', async () => {
  const marker = join(TMP, 'crash.marker');
  const env = { AGIJOBS_BRIDGE_CRASH_AT_TICK: '3', AGIJOBS_BRIDGE_CRASH_MARKER: marker };
  const requests = [HELLO, tick(2, [dispatch('a')]), tick(3, [dispatch('b')]), tick(4, [dispatch('c')])];
  const first = await run(requests, { env });
  assert.equal(first.code, 1);
  assert.deepEqual(first.out.map((l) => JSON.parse(l).id), ['hello', 'tick-2']);
  assert.ok(existsSync(marker));
  const again = await run(requests, { env }); // the restarted bridge answers
  assert.equal(again.code, 0);
  assert.deepEqual(again.out.map((l) => JSON.parse(l).id), ['hello', 'tick-2', 'tick-3', 'tick-4']);
  const noMarker = await run(requests, { env: { AGIJOBS_BRIDGE_CRASH_AT_TICK: '3' } });
  assert.equal(noMarker.code, 1); // without a marker it crashes every time
});

test('hook AGIJOBS_BRIDGE_HANG_AT_TICK: never answers tick N, keeps serving', async () => {
  const { code, out } = await run([HELLO, tick(1), tick(2), tick(2), tick(3)], { env: { AGIJOBS_BRIDGE_HANG_AT_TICK: '2' } });
  assert.equal(code, 0);
  assert.deepEqual(out.map((l) => JSON.parse(l).id), ['hello', 'tick-1', 'tick-3']);
});

test('hook AGIJOBS_BRIDGE_GARBAGE_AT_TICK: answers tick N with a line that is not JSON', async () => {
  const { out } = await run([HELLO, tick(1), tick(2)], { env: { AGIJOBS_BRIDGE_GARBAGE_AT_TICK: '1' } });
  assert.equal(out[1], 'this is not json');
  assert.equal(JSON.parse(out[2]).id, 'tick-2');
});

test('hook AGIJOBS_BRIDGE_PROTOCOL: claims another protocol in hello', async () => {
  const { out } = await run([HELLO], { env: { AGIJOBS_BRIDGE_PROTOCOL: '2' } });
  assert.equal(JSON.parse(out[0]).protocol, 2);
  const bad = await run([HELLO], { env: { AGIJOBS_BRIDGE_PROTOCOL: 'two' } });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /AGIJOBS_BRIDGE_PROTOCOL/);
});

// ------------------------------------------------------------------ size

test('a tick with 20,000 dispatches is answered in full, in order', async () => {
  const jobs = Array.from({ length: 20000 }, (_, i) => dispatch(`earth-finance-${String(i).padStart(6, '0')}`));
  const started = performance.now();
  const { code, out } = await run([HELLO, tick(1, jobs)], { args: ['--rules', rulesFile('big.json', { fail: { fraction: 0.1 } })] });
  const elapsed = performance.now() - started;
  assert.equal(code, 0);
  const receipts = JSON.parse(out[1]).receipts;
  assert.equal(receipts.length, jobs.length);
  assert.ok(receipts.every((r, i) => r.job === jobs[i].job));
  assert.ok(elapsed < 4000, `${elapsed} ms`);
});
