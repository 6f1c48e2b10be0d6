// A scripted session of the official OpenAI Node client (npm package `openai`)
// against `talkie serve`: starts the server on a free port, runs the client's
// calls and checks what it gets back, then stops the server with SIGTERM.
//
//   node session.mjs TALKIE_BINARY MODEL_DIR
//
// Exit codes: 0 all checks passed, 1 a check failed (each failure is printed),
// 2 bad usage, 77 skipped because the client is not installed here (run
// `npm ci` in this directory). With TALKIE_REQUIRE_NODE_CLIENT=1 (set by CI) a
// missing client is a failure, not a skip.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SKIP = 77;  // CTest's SKIP_RETURN_CODE for this test
const here = path.dirname(fileURLToPath(import.meta.url));

if (process.argv.length !== 4) {
  console.error('usage: node session.mjs TALKIE_BINARY MODEL_DIR');
  process.exit(2);
}
const [talkieBinary, modelPath] = process.argv.slice(2);

// --- the client: installed by `npm ci` from package-lock.json, or skip ---
function notInstalled(why) {
  const fix = `run \`npm ci\` in ${here}`;
  if (process.env.TALKIE_REQUIRE_NODE_CLIENT === '1') {
    console.error(`FAIL: ${why}; TALKIE_REQUIRE_NODE_CLIENT=1 requires it (${fix})`);
    process.exit(1);
  }
  console.log(`SKIP: ${why} (${fix})`);
  process.exit(SKIP);
}
const pinned = JSON.parse(readFileSync(path.join(here, 'package.json'), 'utf8')).dependencies.openai;
const installedManifest = path.join(here, 'node_modules', 'openai', 'package.json');
if (!existsSync(installedManifest)) notInstalled('the openai package is not installed');
const installed = JSON.parse(readFileSync(installedManifest, 'utf8')).version;
if (installed !== pinned) {
  notInstalled(`node_modules holds openai ${installed}, package.json pins ${pinned}`);
}
const { default: OpenAI, BadRequestError, NotFoundError } = await import('openai');

// --- the server ---
const modelId = path.basename(statSync(modelPath).isDirectory() ? path.resolve(modelPath)
                                                                : path.dirname(path.resolve(modelPath)));
const startedAt = Date.now();
// One kernel thread: the tiny model needs no more, and OpenMP threads that
// wait for each other on cores busy with other tests (ctest -j) are slow.
const server = spawn(talkieBinary, ['serve', '--host', '127.0.0.1', '--port', '0', '--threads', '1', '-m', modelPath],
                     { stdio: ['ignore', 'inherit', 'pipe'] });
let serverLog = '';
const serverExit = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
const port = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('no "listening on" line within 30 s')), 30_000);
  server.stderr.setEncoding('utf8');
  server.stderr.on('data', (text) => {
    serverLog += text;
    process.stderr.write(text.replace(/^(?=.)/gm, '[server] '));
    const m = /listening on http:\/\/[^\s:]+:(\d+)/.exec(serverLog);
    if (m) {
      clearTimeout(timer);
      resolve(Number(m[1]));
    }
  });
  server.on('error', (e) => reject(e));
  server.on('exit', (code, signal) => reject(new Error(`server exited (${code ?? signal}) before listening`)));
}).catch((e) => {
  console.error(`FAIL: could not start ${talkieBinary} serve: ${e.message}`);
  server.kill('SIGKILL');
  process.exit(1);
});

// A session that hangs (a stream that never ends) must not hang CTest.
const watchdog = setTimeout(() => {
  console.error('FAIL: the session took more than 120 s');
  server.kill('SIGKILL');
  process.exit(1);
}, 120_000);

const base = `http://127.0.0.1:${port}`;
// The server listens while it loads the model (/health: 503 "loading"); the
// session starts once it is ready.
for (let ready = false; !ready;) {
  const r = await fetch(`${base}/health`).catch(() => null);
  if (r && r.status === 200) ready = true;
  else await new Promise((resolve) => setTimeout(resolve, 50));
}

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'none', maxRetries: 0, timeout: 60_000 });

// The server's own token endpoints, to check the usage numbers.
async function post(route, body) {
  const r = await fetch(base + route, { method: 'POST', body: JSON.stringify(body) });
  assert.equal(r.status, 200, `${route}: HTTP ${r.status}`);
  return r.json();
}
const countTokens = async (text) => (await post('/tokenize', { content: text })).tokens.length;
const detokenize = async (ids) => (await post('/detokenize', { tokens: ids })).content;
// Token counts of two usages, without prompt_tokens_details: a repeated
// request takes its prompt from the server's prompt cache, so only
// cached_tokens differs.
const counts = (u) => ({
  prompt_tokens: u.prompt_tokens, completion_tokens: u.completion_tokens, total_tokens: u.total_tokens,
});

// --- the checks: each runs on its own; failures are collected ---
const failures = [];
async function check(name, body) {
  const t0 = Date.now();
  try {
    await body();
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failures.push(name);
    console.log(`FAIL ${name}: ${e.stack ?? e}`);
  }
}

// Reads a stream to its end: the chunks, in order.
async function collect(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

// Per choice index: the concatenated text and the finish_reasons seen.
function assemble(chunks, textOf) {
  const byIndex = new Map();
  for (const chunk of chunks) {
    for (const c of chunk.choices) {
      const acc = byIndex.get(c.index) ?? { text: '', finishReasons: [] };
      acc.text += textOf(c) ?? '';
      if (c.finish_reason != null) acc.finishReasons.push(c.finish_reason);
      byIndex.set(c.index, acc);
    }
  }
  return byIndex;
}

async function expectError(errorClass, status, param, request) {
  let error;
  try {
    await request();
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected a ${errorClass.name}, the request succeeded`);
  assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${error.constructor.name}: ${error.message}`);
  assert.equal(error.status, status);
  if (param !== undefined) {
    assert.equal(error.param, param, `error.param (message: ${error.message})`);
    assert.ok(error.message.includes(param), `the message names ${param}: ${error.message}`);
    assert.equal(error.type, 'invalid_request_error');
  }
  return error;
}

const question = 'What is wit?';
const chatRequest = {
  model: modelId,
  messages: [{ role: 'user', content: question }],
  max_tokens: 32,
  temperature: 0,
  seed: 1,
};
const prompt = 'In the beginning';
const completionRequest = { model: modelId, prompt, max_tokens: 24, temperature: 0, seed: 1 };
let chatGreedy;        // the non-streamed greedy chat reply
let completionGreedy;  // the non-streamed greedy completion

await check('models.list: one model, named after the model directory', async () => {
  const page = await client.models.list();
  assert.equal(page.data.length, 1);
  const [m] = page.data;
  assert.equal(m.id, modelId);
  assert.equal(m.object, 'model');
  assert.equal(typeof m.owned_by, 'string');
  assert.ok(Number.isInteger(m.created) && m.created > 0, `created: ${m.created}`);  // Unix seconds
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);  // auto-pagination
  assert.deepEqual(ids, [modelId]);
});

await check('models.retrieve: GET /v1/models/{id}; an unknown id is NotFoundError 404', async () => {
  const m = await client.models.retrieve(modelId);
  assert.equal(m.id, modelId);
  assert.equal(m.object, 'model');
  assert.deepEqual(m, (await client.models.list()).data[0], 'the same object as in the list');
  await expectError(NotFoundError, 404, undefined, () => client.models.retrieve('no-such-model'));
});

await check('chat.completions.create: greedy is reproducible, usage matches the tokens', async () => {
  const a = await client.chat.completions.create(chatRequest);
  const b = await client.chat.completions.create(chatRequest);
  const c = await client.chat.completions.create({ ...chatRequest, seed: 2 });  // greedy ignores the seed
  assert.equal(a.object, 'chat.completion');
  assert.match(a.id, /^chatcmpl-/);
  assert.equal(a.model, modelId);
  assert.equal(typeof a.created, 'number');
  assert.equal(a.choices.length, 1);
  const [choice] = a.choices;
  assert.equal(choice.index, 0);
  assert.equal(choice.message.role, 'assistant');
  assert.equal(typeof choice.message.content, 'string');
  assert.ok(choice.message.content.length > 0, 'an empty reply');
  assert.ok(['stop', 'length'].includes(choice.finish_reason), choice.finish_reason);
  assert.equal(b.choices[0].message.content, choice.message.content, 'same request, same text');
  assert.equal(c.choices[0].message.content, choice.message.content, 'greedy: the seed does not matter');
  const u = a.usage;
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.ok(u.completion_tokens >= 1 && u.completion_tokens <= chatRequest.max_tokens);
  // The chat template: <|user|> content <|end|> <|assistant|>.
  assert.equal(u.prompt_tokens, (await countTokens(question)) + 3, 'prompt_tokens');
  // token_ids (an extension): the generated ids, counted by completion_tokens.
  assert.equal(choice.token_ids.length, u.completion_tokens);
  assert.equal(await detokenize(choice.token_ids), choice.message.content);
  if (choice.finish_reason === 'length') assert.equal(u.completion_tokens, chatRequest.max_tokens);
  assert.deepEqual(counts(b.usage), counts(u));
  // max_completion_tokens, the client's current name for max_tokens in chat.
  const { max_tokens, ...rest } = chatRequest;
  const short = await client.chat.completions.create({ ...rest, max_completion_tokens: 3 });
  assert.ok(short.usage.completion_tokens <= 3, `max_completion_tokens 3: ${short.usage.completion_tokens}`);
  assert.ok(choice.message.content.startsWith(short.choices[0].message.content));
  chatGreedy = a;
});

await check('completions.create: a text prompt, greedy, usage matches the tokens', async () => {
  const a = await client.completions.create(completionRequest);
  const b = await client.completions.create(completionRequest);
  assert.equal(a.object, 'text_completion');
  assert.equal(a.model, modelId);
  assert.equal(a.choices.length, 1);
  const [choice] = a.choices;
  assert.equal(choice.index, 0);
  assert.equal(typeof choice.text, 'string');
  assert.ok(choice.text.length > 0, 'an empty completion');
  assert.ok(['stop', 'length'].includes(choice.finish_reason), choice.finish_reason);
  assert.equal(b.choices[0].text, choice.text);
  const u = a.usage;
  assert.equal(u.prompt_tokens, await countTokens(prompt));
  assert.equal(u.total_tokens, u.prompt_tokens + u.completion_tokens);
  assert.equal(choice.token_ids.length, u.completion_tokens);
  assert.equal(await detokenize(choice.token_ids), choice.text);
  if (choice.finish_reason === 'length') assert.equal(u.completion_tokens, completionRequest.max_tokens);
  // Without max_tokens, completions default to 16 tokens (as OpenAI).
  const d = await client.completions.create({ model: modelId, prompt, temperature: 0 });
  assert.ok(d.usage.completion_tokens <= 16, `default max_tokens: ${d.usage.completion_tokens}`);
  completionGreedy = a;
});

await check('prompt cache: the next turn reports usage.prompt_tokens_details.cached_tokens', async () => {
  const first = [{ role: 'user', content: 'Of what is the sea made?' }];
  const a = await client.chat.completions.create({ model: modelId, messages: first, max_tokens: 6, temperature: 0 });
  const turn = [...first, a.choices[0].message, { role: 'user', content: 'And the sky?' }];
  const b = await client.chat.completions.create({ model: modelId, messages: turn, max_tokens: 6, temperature: 0 });
  const cached = b.usage.prompt_tokens_details.cached_tokens;
  assert.ok(cached >= a.usage.prompt_tokens, `cached ${cached} of ${b.usage.prompt_tokens}`);
  assert.ok(cached < b.usage.prompt_tokens, `cached ${cached} of ${b.usage.prompt_tokens}`);
});

await check('chat streaming: deltas add up to the non-streamed text, one finish_reason, usage chunk', async () => {
  const chunks = await collect(await client.chat.completions.create({
    ...chatRequest, stream: true, stream_options: { include_usage: true },
  }));
  assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
  for (const chunk of chunks) {
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.id, chunks[0].id);
    assert.equal(chunk.model, modelId);
  }
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, [], 'the usage chunk has no choices');
  assert.deepEqual(counts(last.usage), counts(chatGreedy.usage));
  for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.usage ?? null, null, 'usage only in the last chunk');
  const got = assemble(chunks, (c) => c.delta.content);
  assert.deepEqual([...got.keys()], [0]);
  assert.equal(got.get(0).text, chatGreedy.choices[0].message.content);
  assert.deepEqual(got.get(0).finishReasons, [chatGreedy.choices[0].finish_reason]);
  // Without include_usage: no usage anywhere.
  const plain = await collect(await client.chat.completions.create({ ...chatRequest, stream: true }));
  for (const chunk of plain) assert.equal(chunk.usage ?? null, null);
  assert.equal(assemble(plain, (c) => c.delta.content).get(0).text, chatGreedy.choices[0].message.content);
  // The client's own accumulator (chat.completions.stream) builds the same message.
  const runner = client.chat.completions.stream({ ...chatRequest, stream_options: { include_usage: true } });
  const final = await runner.finalChatCompletion();
  assert.equal(final.choices[0].message.content, chatGreedy.choices[0].message.content);
  assert.equal(final.choices[0].finish_reason, chatGreedy.choices[0].finish_reason);
  assert.deepEqual(counts(final.usage), counts(chatGreedy.usage));
});

await check('completions streaming: texts add up to the non-streamed text, one finish_reason, usage chunk', async () => {
  const chunks = await collect(await client.completions.create({
    ...completionRequest, stream: true, stream_options: { include_usage: true },
  }));
  for (const chunk of chunks) {
    assert.equal(chunk.object, 'text_completion');
    assert.equal(chunk.id, chunks[0].id);
  }
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.deepEqual(counts(last.usage), counts(completionGreedy.usage));
  const got = assemble(chunks, (c) => c.text);
  assert.deepEqual([...got.keys()], [0]);
  assert.equal(got.get(0).text, completionGreedy.choices[0].text);
  assert.deepEqual(got.get(0).finishReasons, [completionGreedy.choices[0].finish_reason]);
});

await check('chat logprobs: one entry per token, top_logprobs sorted, logprob <= 0', async () => {
  const r = await client.chat.completions.create({ ...chatRequest, logprobs: true, top_logprobs: 3 });
  const [choice] = r.choices;
  assert.equal(choice.message.content, chatGreedy.choices[0].message.content, 'logprobs do not change the text');
  const entries = choice.logprobs.content;
  assert.equal(entries.length, r.usage.completion_tokens);
  const bytes = [];
  for (const [i, e] of entries.entries()) {
    assert.equal(typeof e.token, 'string');
    assert.ok(e.logprob <= 0, `token ${i}: logprob ${e.logprob}`);
    assert.equal(e.top_logprobs.length, 3, `token ${i}: ${e.top_logprobs.length} alternatives`);
    for (let k = 1; k < 3; ++k) {
      assert.ok(e.top_logprobs[k - 1].logprob >= e.top_logprobs[k].logprob, `token ${i}: not sorted`);
    }
    for (const t of e.top_logprobs) assert.ok(t.logprob <= 0);
    // Greedy: the chosen token is the most likely one.
    assert.equal(e.token, e.top_logprobs[0].token, `token ${i}`);
    assert.equal(e.logprob, e.top_logprobs[0].logprob, `token ${i}`);
    bytes.push(...e.bytes);
  }
  assert.equal(Buffer.from(bytes).toString('utf8'), choice.message.content, 'the bytes spell the reply');
  // Without logprobs the field is null.
  assert.equal(chatGreedy.choices[0].logprobs, null);
});

await check('completions logprobs: tokens, token_logprobs, top_logprobs, text_offset', async () => {
  const r = await client.completions.create({ ...completionRequest, logprobs: 2 });
  const [choice] = r.choices;
  assert.equal(choice.text, completionGreedy.choices[0].text);
  const lp = choice.logprobs;
  const n = r.usage.completion_tokens;
  assert.equal(lp.tokens.length, n);
  assert.equal(lp.token_logprobs.length, n);
  assert.equal(lp.top_logprobs.length, n);
  assert.equal(lp.text_offset.length, n);
  assert.equal(lp.tokens.join(''), choice.text);
  for (let i = 0; i < n; ++i) {
    assert.ok(lp.token_logprobs[i] <= 0);
    const alternatives = Object.values(lp.top_logprobs[i]);
    assert.ok(alternatives.length >= 1 && alternatives.length <= 2);
    assert.equal(Math.max(...alternatives), lp.token_logprobs[i], `greedy token ${i} is the most likely`);
    if (i > 0) assert.equal(lp.text_offset[i], lp.text_offset[i - 1] + lp.tokens[i - 1].length);
  }
});

await check('stop: the text ends just before the stop string, finish_reason "stop"', async () => {
  const full = completionGreedy.choices[0].text;
  const words = full.match(/ \S+/g) ?? [];
  const stop = words.find((w, i) => i >= 2 && full.indexOf(w) > 0);
  assert.ok(stop, `no stop word to pick in ${JSON.stringify(full)}`);
  const expected = full.slice(0, full.indexOf(stop));
  const r = await client.completions.create({ ...completionRequest, stop: [stop, '<never>'] });
  assert.equal(r.choices[0].text, expected, `stop ${JSON.stringify(stop)}`);
  assert.equal(r.choices[0].finish_reason, 'stop');
  assert.ok(!r.choices[0].text.includes(stop));
  // Streamed: the held-back prefix of the stop string never leaks.
  const chunks = await collect(await client.completions.create({ ...completionRequest, stop, stream: true }));
  const got = assemble(chunks, (c) => c.text).get(0);
  assert.equal(got.text, expected);
  assert.deepEqual(got.finishReasons, ['stop']);
  // Chat, with the stop string as a plain string.
  const reply = chatGreedy.choices[0].message.content;
  const chatStop = (reply.match(/ \S+/g) ?? []).find((w) => reply.indexOf(w) > 0);
  if (chatStop) {
    const c = await client.chat.completions.create({ ...chatRequest, stop: chatStop });
    assert.equal(c.choices[0].message.content, reply.slice(0, reply.indexOf(chatStop)));
    assert.equal(c.choices[0].finish_reason, 'stop');
  }
});

await check('seed: temperature 1 with the same seed repeats, different seeds differ', async () => {
  const sampled = { ...chatRequest, temperature: 1, max_tokens: 24 };
  const text = async (seed) =>
    (await client.chat.completions.create({ ...sampled, seed })).choices[0].message.content;
  const first = await text(42);
  assert.equal(await text(42), first, 'seed 42 twice');
  const texts = new Set([first]);
  for (const seed of [1, 2, 3, 4]) texts.add(await text(seed));
  assert.ok(texts.size >= 3, `5 seeds gave only ${texts.size} different texts`);
  const r = await client.chat.completions.create({ ...sampled, seed: 42 });
  assert.equal(r.seed, 42, 'the seed is reported back (extension)');
});

await check('n=2: two choices, indices 0 and 1, choice i = the n=1 request with seed+i', async () => {
  const request = { ...chatRequest, temperature: 1, max_tokens: 24, seed: 7, n: 2 };
  const r = await client.chat.completions.create(request);
  assert.equal(r.choices.length, 2);
  assert.deepEqual(r.choices.map((c) => c.index), [0, 1]);
  assert.equal(r.usage.completion_tokens, r.choices[0].token_ids.length + r.choices[1].token_ids.length);
  for (const i of [0, 1]) {
    const single = await client.chat.completions.create({ ...request, n: 1, seed: 7 + i });
    assert.equal(r.choices[i].message.content, single.choices[0].message.content, `choice ${i}`);
  }
  // Streamed: both indices, one finish_reason each, the same texts.
  const got = assemble(await collect(await client.chat.completions.create({ ...request, stream: true })),
                       (c) => c.delta.content);
  assert.deepEqual([...got.keys()].sort(), [0, 1]);
  for (const i of [0, 1]) {
    assert.equal(got.get(i).text, r.choices[i].message.content, `streamed choice ${i}`);
    assert.deepEqual(got.get(i).finishReasons, [r.choices[i].finish_reason]);
  }
});

await check('errors: BadRequestError 400 naming the field; unknown route NotFoundError 404', async () => {
  await expectError(BadRequestError, 400, 'frobnicate',
                    () => client.chat.completions.create({ ...chatRequest, frobnicate: 1 }));
  await expectError(BadRequestError, 400, 'temperature',
                    () => client.chat.completions.create({ ...chatRequest, temperature: -1 }));
  await expectError(BadRequestError, 400, 'temperature',
                    () => client.chat.completions.create({ ...chatRequest, temperature: -1, stream: true }));
  await expectError(BadRequestError, 400, 'top_p',
                    () => client.completions.create({ ...completionRequest, top_p: 2 }));
  await expectError(BadRequestError, 400, 'messages[0].role',
                    () => client.chat.completions.create({ ...chatRequest, messages: [{ role: 'narrator', content: 'x' }] }));
  await expectError(NotFoundError, 404, undefined, () => client.get('/no-such-route'));
});

await check('role "developer" is accepted and treated as "system"', async () => {
  const messages = (role) => [{ role, content: 'Answer in a few words.' }, { role: 'user', content: question }];
  const dev = await client.chat.completions.create({ ...chatRequest, messages: messages('developer') });
  const sys = await client.chat.completions.create({ ...chatRequest, messages: messages('system') });
  assert.equal(dev.choices[0].message.content, sys.choices[0].message.content);
  assert.deepEqual(counts(dev.usage), counts(sys.usage));
});

// --- shutdown: SIGTERM, and the server exits 0 ---
clearTimeout(watchdog);
server.kill('SIGTERM');
let graceTimer;
const exited = await Promise.race([serverExit, new Promise((r) => { graceTimer = setTimeout(() => r(null), 15_000); })]);
clearTimeout(graceTimer);
if (exited === null) {
  failures.push('shutdown');
  console.log('FAIL shutdown: the server did not exit within 15 s of SIGTERM');
  server.kill('SIGKILL');
} else if (exited.code !== 0) {
  failures.push('shutdown');
  console.log(`FAIL shutdown: the server exited with ${exited.code ?? exited.signal} after SIGTERM`);
} else {
  console.log('ok   shutdown: SIGTERM, exit 0');
}

const seconds = ((Date.now() - startedAt) / 1000).toFixed(1);
if (failures.length > 0) {
  console.log(`${failures.length} check(s) failed with openai ${installed} (${seconds} s): ${failures.join('; ')}`);
  process.exit(1);
}
console.log(`all checks passed with openai ${installed} (${seconds} s)`);
process.exit(0);  // idle keep-alive sockets would otherwise hold the process a while
