#!/usr/bin/env node
// The agijobs reference bridge: an external executor speaking protocol 1 (PROTOCOL.md).
//
//   node bridge/bridge.mjs [--rules rules.json] [--name NAME] [--nodes NODE,TICK,down|up;...]
//
// Requests arrive as JSON lines on stdin, responses leave as JSON lines on stdout (canonical
// JSON: sorted keys, no spaces), logs go to stderr. Every answer is a pure function of the
// request and the rules file, so a re-sent request gets the same bytes back. No clock, no
// randomness, no npm dependencies.

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

export const PROTOCOL = 1;
export const VERSION = '1.0.0';
export const DEFAULT_NAME = 'agijobs-reference-bridge';
const GOVERNOR = 'fabric-governor';
const DEFAULT_FAIL_REASON = 'simulated executor failure';

// ------------------------------------------------------------------ canonical JSON
//
// Canonical JSON is Python's `json.dumps(obj, sort_keys=True, separators=(",", ":"),
// ensure_ascii=False)` of the value Python's `json.loads` would read. Two things need care in
// JavaScript: keys sort by code point (not UTF-16 unit), and numbers keep Python's view of
// them: `1.0` stays a float (`1.0`), `100000000000000000001` stays an exact int, floats are
// written as Python's repr writes them (`1e-05`, `1e+16`, `0.00072`). JSON.parse loses the
// int/float distinction, so governance commands (the only place floats may appear) are read
// again with `parseLossless`, which keeps each number's source text in a `Num`.

export class Num {
  constructor(lexeme) {
    this.lexeme = lexeme;
  }
}

/** Python's repr of a float, from a JS number (both use the shortest round-trip digits). */
export function pyFloat(x) {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : '-Infinity';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, exponent] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const e = Number(exponent);
  if (e < -4 || e >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const a = Math.abs(e);
    return `${sign}${m}e${e < 0 ? '-' : '+'}${a < 10 ? '0' : ''}${a}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  return `${sign}${digits.slice(0, e + 1).padEnd(e + 1, '0')}.${digits.slice(e + 1) || '0'}`;
}

function numText(lexeme) {
  if (/[.eE]/.test(lexeme)) return pyFloat(Number(lexeme));
  return lexeme === '-0' ? '0' : lexeme; // Python's int(): exact, and -0 is 0
}

/** Order strings by code point, as Python does (UTF-16 order differs above U+FFFF). */
export function byCodePoint(a, b) {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (D800-DFFF) encode code points above FFFF: move them above E000-FFFF.
      x += x >= 0xd800 ? (x <= 0xdfff ? 0x2000 : -0x800) : 0;
      y += y >= 0xd800 ? (y <= 0xdfff ? 0x2000 : -0x800) : 0;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Canonical JSON text of a value (plain JS values, and `Num` from `parseLossless`). */
export function canonical(value) {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isSafeInteger(value) ? String(value) : pyFloat(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object': {
      if (value === null) return 'null';
      if (value instanceof Num) return numText(value.lexeme);
      if (Array.isArray(value)) {
        let text = '[';
        for (let i = 0; i < value.length; i++) text += (i ? ',' : '') + canonical(value[i]);
        return `${text}]`;
      }
      let text = '';
      for (const key of Object.keys(value).sort(byCodePoint)) {
        if (value[key] !== undefined) text += `${text ? ',' : ''}${JSON.stringify(key)}:${canonical(value[key])}`;
      }
      return `{${text}}`;
    }
    default:
      throw new TypeError(`cannot encode a ${typeof value} as JSON`);
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Parse JSON text that JSON.parse has already accepted, keeping numbers as `Num` (their
 * source text) and building objects without a prototype (so `__proto__` is just a key).
 */
export function parseLossless(text) {
  let i = 0;
  const skip = () => {
    for (let c = text.charCodeAt(i); c === 32 || c === 9 || c === 10 || c === 13; ) {
      c = text.charCodeAt(++i);
    }
  };
  const string = () => {
    let j = i + 1;
    for (let c = text.charCodeAt(j); c !== 34; c = text.charCodeAt(j)) j += c === 92 ? 2 : 1;
    const s = JSON.parse(text.slice(i, j + 1));
    i = j + 1;
    return s;
  };
  const value = () => {
    skip();
    const c = text[i];
    if (c === '"') return string();
    if (c === '{') {
      const object = Object.create(null);
      i++;
      skip();
      if (text[i] === '}') return i++, object;
      for (;;) {
        skip();
        const key = string();
        skip();
        i++; // ':'
        object[key] = value();
        skip();
        if (text[i++] === '}') return object; // else ','
      }
    }
    if (c === '[') {
      const array = [];
      i++;
      skip();
      if (text[i] === ']') return i++, array;
      for (;;) {
        array.push(value());
        skip();
        if (text[i++] === ']') return array; // else ','
      }
    }
    if (c === 't') return (i += 4), true;
    if (c === 'f') return (i += 5), false;
    if (c === 'n') return (i += 4), null;
    NUMBER.lastIndex = i;
    const lexeme = NUMBER.exec(text)[0];
    i += lexeme.length;
    return new Num(lexeme);
  };
  return value();
}

// ------------------------------------------------------------------ rules

class RulesError extends Error {}

const isObject = (v) => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Num);
const isCount = (v) => Number.isSafeInteger(v) && v >= 1;

function checkKeys(where, object, allowed) {
  if (!isObject(object)) throw new RulesError(`${where}: must be an object`);
  for (const key of Object.keys(object)) {
    if (!allowed.includes(key)) {
      throw new RulesError(`${where}: unknown key \`${key}\` (known: ${allowed.join(', ')})`);
    }
  }
}

function selector(where, rule) {
  for (const key of ['skill', 'node']) {
    if (key in rule && (typeof rule[key] !== 'string' || rule[key] === '')) {
      throw new RulesError(`${where}.${key}: must be a non-empty string`);
    }
  }
  if (!('skill' in rule) && !('node' in rule)) {
    throw new RulesError(`${where}: needs \`skill\` or \`node\` (or both, which must both match)`);
  }
  return { skill: rule.skill, node: rule.node };
}

/** Validate a parsed rules document; throws RulesError naming the first problem. */
export function compileRules(doc) {
  checkKeys('rules', doc, ['reject', 'slow', 'fail']);
  const rules = { reject: [], slow: [], fail: null };
  for (const list of ['reject', 'slow']) {
    if (list in doc && !Array.isArray(doc[list])) throw new RulesError(`${list}: must be a list`);
  }
  (doc.reject ?? []).forEach((rule, n) => {
    const where = `reject[${n}]`;
    checkKeys(where, rule, ['skill', 'node', 'reason']);
    const match = selector(where, rule);
    if ('reason' in rule && (typeof rule.reason !== 'string' || rule.reason === '')) {
      throw new RulesError(`${where}.reason: must be a non-empty string`);
    }
    const what = [match.skill && `skill ${match.skill}`, match.node && `node ${match.node}`];
    const reason = rule.reason ?? `${what.filter(Boolean).join(' on ')} is rejected by the rules`;
    rules.reject.push({ ...match, reason });
  });
  (doc.slow ?? []).forEach((rule, n) => {
    const where = `slow[${n}]`;
    checkKeys(where, rule, ['skill', 'node', 'factor', 'duration']);
    const match = selector(where, rule);
    if (('factor' in rule) === ('duration' in rule)) {
      throw new RulesError(`${where}: needs exactly one of \`factor\` and \`duration\``);
    }
    if ('factor' in rule && !(typeof rule.factor === 'number' && rule.factor > 0)) {
      throw new RulesError(`${where}.factor: must be a number > 0`);
    }
    if ('duration' in rule && !isCount(rule.duration)) {
      throw new RulesError(`${where}.duration: must be an integer >= 1`);
    }
    rules.slow.push({ ...match, factor: rule.factor, duration: rule.duration });
  });
  if ('fail' in doc) {
    const fail = doc.fail;
    checkKeys('fail', fail, ['fraction', 'seed', 'reason']);
    if (!(typeof fail.fraction === 'number' && fail.fraction >= 0 && fail.fraction <= 1)) {
      throw new RulesError('fail.fraction: must be a number from 0 to 1');
    }
    if ('seed' in fail && !(Number.isSafeInteger(fail.seed) || typeof fail.seed === 'string')) {
      throw new RulesError('fail.seed: must be an integer or a string');
    }
    if ('reason' in fail && (typeof fail.reason !== 'string' || fail.reason === '')) {
      throw new RulesError('fail.reason: must be a non-empty string');
    }
    rules.fail = { fraction: fail.fraction, seed: fail.seed, reason: fail.reason ?? DEFAULT_FAIL_REASON };
  }
  return rules;
}

export const NO_RULES = compileRules({});

// ------------------------------------------------------------------ handlers

class BadRequest extends Error {}

const matches = (rule, d) =>
  (rule.skill === undefined || d.skills.includes(rule.skill)) &&
  (rule.node === undefined || d.node === rule.node);

/** The seeded draw in [0, 1) of the fail rule: sha256("seed:job:attempt"), first 32 bits. */
export function failDraw(seed, job, attempt) {
  const hex = createHash('sha256').update(`${seed}:${job}:${attempt}`).digest('hex');
  return parseInt(hex.slice(0, 8), 16) / 2 ** 32;
}

/** duration x factor, rounded up; the product is first rounded to 12 significant digits so
 * that float noise (10 x 1.1 = 11.000000000000002) does not add a tick. */
const scaled = (duration, factor) => Math.max(1, Math.ceil(Number((duration * factor).toPrecision(12))));

function checkDispatch(d, n) {
  const where = `tick: dispatch[${n}]`;
  if (!isObject(d)) throw new BadRequest(`${where}: must be an object`);
  if (typeof d.job !== 'string' || d.job === '') throw new BadRequest(`${where}: \`job\` must be a non-empty string`);
  if (!isCount(d.attempt)) throw new BadRequest(`${where}: \`attempt\` must be an integer >= 1`);
  if (typeof d.node !== 'string') throw new BadRequest(`${where}: \`node\` must be a string`);
  if (!Array.isArray(d.skills) || !d.skills.every((s) => typeof s === 'string')) {
    throw new BadRequest(`${where}: \`skills\` must be a list of strings`);
  }
  if (!isCount(d.duration)) throw new BadRequest(`${where}: \`duration\` must be an integer >= 1`);
}

/** One receipt for one dispatch. First matching rule wins: reject, then fail, then slow. */
export function receiptFor(d, rules, seed) {
  for (const rule of rules.reject) {
    if (matches(rule, d)) return { job: d.job, attempt: d.attempt, status: 'rejected', reason: rule.reason };
  }
  const fail = rules.fail;
  if (fail !== null && failDraw(fail.seed ?? seed, d.job, d.attempt) < fail.fraction) {
    return { job: d.job, attempt: d.attempt, status: 'rejected', reason: fail.reason };
  }
  for (const rule of rules.slow) {
    if (!matches(rule, d)) continue;
    const duration = rule.duration ?? scaled(d.duration, rule.factor);
    if (duration !== d.duration) return { job: d.job, attempt: d.attempt, status: 'accepted', duration };
    break; // the rule matched but changes nothing: a default receipt
  }
  return { job: d.job, attempt: d.attempt, status: 'accepted' };
}

/** The dispatch half of a tick: exactly one receipt per entry, in order. */
export function dispatchReceipts(dispatch, rules, seed) {
  dispatch.forEach(checkDispatch);
  return dispatch.map((d) => receiptFor(d, rules, seed));
}

/** `canonical(receipt)`, written directly: thousands of receipts a tick, keys known. */
export function receiptText(r) {
  let text = `{"attempt":${r.attempt},`;
  if (r.duration !== undefined) text += `"duration":${r.duration},`;
  text += `"job":${JSON.stringify(r.job)},`;
  if (r.reason !== undefined) text += `"reason":${JSON.stringify(r.reason)},`;
  return `${text}"status":"${r.status}"}`;
}

/** The tick response: `canonical(response)` with the receipts written by `receiptText`. */
export function tickText(response) {
  let receipts = '';
  for (let i = 0; i < response.receipts.length; i++) receipts += (i ? ',' : '') + receiptText(response.receipts[i]);
  const { id, govern, nodes } = response;
  const reported = nodes && nodes.length ? `"nodes":${canonical(nodes)},` : '';
  return `{"govern":${canonical(govern)},"id":${JSON.stringify(id)},${reported}"ok":true,"receipts":[${receipts}]}`;
}

// ------------------------------------------------------------------ node health

/**
 * A simulated node health schedule, from `NODE,TICK,down|up` entries separated by `;` or
 * whitespace (`--nodes` or AGIJOBS_BRIDGE_NODES): node id -> [[tick, status], ...] by tick.
 */
export function parseNodeSchedule(text) {
  const schedule = new Map();
  for (const entry of text.split(/[;\s]+/).filter(Boolean)) {
    const parts = entry.split(',');
    const [node, tick, status] = parts;
    if (parts.length !== 3 || !node || !/^\d+$/.test(tick) || Number(tick) < 1 || !['down', 'up'].includes(status)) {
      throw new RulesError(`node schedule: \`${entry}\` is not NODE,TICK,down|up (TICK a whole number >= 1)`);
    }
    if (!schedule.has(node)) schedule.set(node, []);
    schedule.get(node).push([Number(tick), status]);
  }
  for (const entries of schedule.values()) entries.sort((a, b) => a[0] - b[0]);
  return schedule;
}

/**
 * The tick's node reports: each scheduled node's latest state at or before `tick`, by node
 * id. Stateless, like every answer: the runner applies only the reports that change a node,
 * so repeating them every tick is harmless (PROTOCOL.md, "Node reports").
 */
export function nodeReports(schedule, tick) {
  const reports = [];
  for (const node of [...schedule.keys()].sort(byCodePoint)) {
    let status = null;
    for (const [at, said] of schedule.get(node)) if (at <= tick) status = said;
    if (status !== null) reports.push({ node, status });
  }
  return reports;
}

/** The governance half of a tick: the multisig transaction each command would submit. */
export function governPayloads(govern) {
  return govern.map((g, n) => {
    const where = `tick: govern[${n}]`;
    if (!isObject(g)) throw new BadRequest(`${where}: must be an object`);
    if (typeof g.command !== 'string' || g.command === '') throw new BadRequest(`${where}: \`command\` must be a non-empty string`);
    if (!isObject(g.args)) throw new BadRequest(`${where}: \`args\` must be an object`);
    if (typeof g.reason !== 'string') throw new BadRequest(`${where}: \`reason\` must be a string`);
    const nonce = createHash('sha256').update(canonical(g), 'utf8').digest('hex').slice(0, 16);
    return {
      command: g.command,
      payload: { to: GOVERNOR, method: g.command, params: g.args, memo: g.reason, nonce },
    };
  });
}

// ------------------------------------------------------------------ the bridge

const HOOKS = ['CRASH_AT_TICK', 'HANG_AT_TICK', 'GARBAGE_AT_TICK', 'PROTOCOL'];

function readHooks(env) {
  const hooks = { marker: env.AGIJOBS_BRIDGE_CRASH_MARKER || null };
  for (const hook of HOOKS) {
    const text = env[`AGIJOBS_BRIDGE_${hook}`];
    if (text === undefined || text === '') continue;
    if (!/^-?\d+$/.test(text.trim())) throw new RulesError(`AGIJOBS_BRIDGE_${hook}: \`${text}\` is not an integer`);
    hooks[hook] = Number(text);
  }
  return hooks;
}

/**
 * A bridge session: `handle(line)` returns the text to write for one stdin line (without
 * the newline), or null for no answer. Handlers return a response object, a raw string
 * (already encoded: a tick's answer, or a test hook's garbage), or null (never answer).
 */
export function createBridge({ rules = NO_RULES, name = DEFAULT_NAME, hooks = {}, log = () => {}, nodes = new Map() } = {}) {
  const claimed = hooks.PROTOCOL ?? PROTOCOL;
  const marker = hooks.marker ?? null;
  const hookAt = (hook, req) => hooks[hook] !== undefined && req.tick === hooks[hook];
  let greeted = false;
  let lineNo = 0;

  const handlers = new Map([
    [
      'hello',
      (req) => {
        if (req.protocol !== PROTOCOL) {
          greeted = false;
          const asked = canonical(req.protocol ?? null);
          return { id: req.id, ok: false, protocol: claimed, error: `unsupported protocol ${asked}; this bridge speaks ${claimed}` };
        }
        greeted = true;
        return { id: req.id, ok: true, protocol: claimed, name, version: VERSION };
      },
    ],
    [
      'tick',
      (req, line) => {
        if (hookAt('CRASH_AT_TICK', req)) crash(req.tick);
        if (hookAt('HANG_AT_TICK', req)) return log(`test hook: not answering tick ${req.tick}`), null;
        if (hookAt('GARBAGE_AT_TICK', req)) return log(`test hook: garbage for tick ${req.tick}`), 'this is not json';
        if (!greeted) throw new BadRequest('handshake required: send hello first');
        if (!Number.isSafeInteger(req.tick)) throw new BadRequest('tick: `tick` must be an integer');
        if (!Number.isSafeInteger(req.seed)) throw new BadRequest('tick: `seed` must be an integer');
        if (!Array.isArray(req.dispatch)) throw new BadRequest('tick: `dispatch` must be a list');
        if (!Array.isArray(req.govern)) throw new BadRequest('tick: `govern` must be a list');
        const receipts = dispatchReceipts(req.dispatch, rules, req.seed);
        // Commands are read again keeping each number's text, so params and nonces match
        // what Python reads (1.0 is not 1). Only ticks with governance pay for it.
        const govern = req.govern.length ? governPayloads(parseLossless(line).govern) : [];
        return tickText({ id: req.id, ok: true, receipts, govern, nodes: nodeReports(nodes, req.tick) });
      },
    ],
  ]);

  function crash(tick) {
    if (marker !== null && existsSync(marker)) return; // crashed once already
    if (marker !== null) writeFileSync(marker, `crashed at tick ${tick}\n`);
    log(`test hook: crashing at tick ${tick}`);
    process.exit(1);
  }

  return function handle(line) {
    lineNo++;
    if (/^[ \t\r]*$/.test(line)) return null; // blank lines are ignored (but counted)
    let req;
    try {
      req = JSON.parse(line);
    } catch (error) {
      return canonical({ id: null, ok: false, error: `line ${lineNo}: invalid JSON (${error.message})` });
    }
    if (!isObject(req) || typeof req.id !== 'string') {
      return canonical({ id: null, ok: false, error: `line ${lineNo}: a request must be a JSON object with a string \`id\`` });
    }
    const handler = typeof req.op === 'string' ? handlers.get(req.op) : undefined;
    if (handler === undefined) {
      const op = typeof req.op === 'string' ? req.op : canonical(req.op ?? null);
      return canonical({ id: req.id, ok: false, error: `unknown op \`${op}\`` });
    }
    let response;
    try {
      response = handler(req, line);
    } catch (error) {
      if (!(error instanceof BadRequest)) log(`internal error on line ${lineNo}: ${error.stack}`);
      const message = error instanceof BadRequest ? error.message : `internal error: ${error.message}`;
      return canonical({ id: req.id, ok: false, error: message });
    }
    return response === null || typeof response === 'string' ? response : canonical(response);
  };
}

// ------------------------------------------------------------------ command line

const USAGE = 'usage: node bridge/bridge.mjs [--rules rules.json] [--name NAME] [--nodes NODE,TICK,down|up;...]';

function parseArgs(argv) {
  const options = { rules: null, name: DEFAULT_NAME, nodes: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    if (flag === '--help' || flag === '-h') {
      process.stdout.write(`${USAGE}\nSpeaks agijobs bridge protocol ${PROTOCOL} on stdin/stdout; see bridge/PROTOCOL.md.\n`);
      process.exit(0);
    }
    if (flag !== '--rules' && flag !== '--name' && flag !== '--nodes') throw new RulesError(`unknown argument \`${arg}\`\n${USAGE}`);
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') throw new RulesError(`${flag} needs a value\n${USAGE}`);
    options[flag.slice(2)] = value;
  }
  return options;
}

function loadRules(path) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new RulesError(`cannot read rules file ${path}: ${error.code === 'ENOENT' ? 'no such file' : error.message}`);
  }
  let doc;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new RulesError(`rules file ${path} is not valid JSON (${error.message})`);
  }
  try {
    return compileRules(doc);
  } catch (error) {
    throw new RulesError(`rules file ${path}: ${error.message}`);
  }
}

function main() {
  const log = (message) => process.stderr.write(`bridge: ${message}\n`);
  let handle;
  try {
    const options = parseArgs(process.argv.slice(2));
    const rules = options.rules === null ? NO_RULES : loadRules(options.rules);
    const hooks = readHooks(process.env);
    const nodes = parseNodeSchedule(options.nodes ?? process.env.AGIJOBS_BRIDGE_NODES ?? '');
    handle = createBridge({ rules, name: options.name, hooks, log, nodes });
    if (nodes.size) log(`node health simulated for ${[...nodes.keys()].sort(byCodePoint).join(', ')}`);
    const active = HOOKS.filter((h) => h in hooks).map((h) => `${h}=${hooks[h]}`);
    if (active.length) log(`test hooks active: ${active.join(', ')}`);
    if (options.rules !== null) log(`rules from ${options.rules}: ${rules.reject.length} reject, ${rules.slow.length} slow, fail ${rules.fail ? rules.fail.fraction : 'off'}`);
  } catch (error) {
    if (!(error instanceof RulesError)) throw error;
    process.stderr.write(`bridge: ${error.message}\n`);
    process.exit(2);
  }
  // The runner went away (EPIPE): there is no one left to answer.
  process.stdout.on('error', () => process.exit(0));
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    const out = handle(line);
    if (out !== null) process.stdout.write(`${out}\n`);
  });
  // stdin closed: readline closes, nothing is pending, and node exits 0 once stdout drains.
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
