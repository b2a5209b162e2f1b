// Replays recorded responses through the JavaScript client libraries, without a network.
//
// The node worker of a replay, started by conformance/_replay/_workers.py from the folder
// `conformance clients install` filled (node_modules beside this file):
//   node replay.mjs FOLDER LIBRARY...      (LIBRARY: openai-node, vercel-ai)
// It reads every recording that lands in FOLDER (`*.json`, written whole by a rename:
// {"status": 200, "headers": [[name, value], ...], "chunks": [base64, ...], "only": [...]})
// through each library (of those in "only", when it is not empty), in name order, as they
// land, and writes one JSON line per reading on stdout:
//   {"file": name, "library": "openai-node", "reading": reading}
// where a reading is {"choices": [{"index", "content", "tool_calls": [{"index", "id", "name",
// "arguments"}], "finish_reason"}], "chunks": n, "error": null | "Type: message"}. When its
// standard input ends, it reads what is left in FOLDER and exits.
import { readdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";

const PER_REPLAY_MS = 10000;
const POLL_MS = 40;
const URL_BASE = "http://replay.invalid/v1";
const REQUEST = { model: "replay", messages: [{ role: "user", content: "Hi" }] };

// A fetch that answers every request with the recorded response, in its recorded pieces.
// A real fetch removes a gzip or deflate content coding: so does this one.
function recordedFetch(job) {
  return async () => {
    const pieces = job.chunks.map((b64) => Uint8Array.from(Buffer.from(b64, "base64")));
    let body = new ReadableStream({
      start(controller) {
        for (const piece of pieces) controller.enqueue(piece);
        controller.close();
      },
    });
    const headers = new Headers();
    for (const [name, value] of job.headers) headers.append(name, value);
    const coding = (headers.get("content-encoding") || "").trim().toLowerCase();
    if (coding === "gzip" || coding === "x-gzip" || coding === "deflate") {
      body = body.pipeThrough(new DecompressionStream(coding === "deflate" ? "deflate" : "gzip"));
    }
    return new Response(body, { status: job.status, headers });
  };
}

function describe(error) {
  const name = (error && error.constructor && error.constructor.name) || "Error";
  const message = error && error.message ? String(error.message) : String(error);
  return `${name}: ${message}`.slice(0, 500);
}

// The documented way to assemble a message from chunk deltas.
function accumulate(choices, chunk) {
  for (const choice of (chunk && chunk.choices) || []) {
    const state = (choices[choice.index] ??= {
      index: choice.index, content: "", tool_calls: {}, finish_reason: null,
    });
    const delta = choice.delta || {};
    if (typeof delta.content === "string") state.content += delta.content;
    for (const call of delta.tool_calls || []) {
      const tool = (state.tool_calls[call.index] ??= {
        index: call.index, id: null, name: "", arguments: "",
      });
      if (call.id && !tool.id) tool.id = call.id;
      const fn = call.function || {};
      if (fn.name && !tool.name) tool.name = fn.name;
      if (typeof fn.arguments === "string") tool.arguments += fn.arguments;
    }
    if (choice.finish_reason && !state.finish_reason) state.finish_reason = choice.finish_reason;
  }
}

function reading(choices, chunks, error) {
  const list = Object.values(choices).map((c) => ({
    ...c,
    tool_calls: Object.values(c.tool_calls).sort((a, b) => a.index - b.index),
  }));
  return { choices: list.sort((a, b) => a.index - b.index), chunks, error };
}

async function openaiNode(job, OpenAI) {
  const client = new OpenAI({
    apiKey: "replay", baseURL: URL_BASE, fetch: recordedFetch(job), maxRetries: 0,
  });
  const choices = {};
  let chunks = 0;
  let error = null;
  try {
    const stream = await client.chat.completions.create({ ...REQUEST, stream: true });
    for await (const chunk of stream) {
      chunks += 1;
      accumulate(choices, chunk);
    }
  } catch (e) {
    error = describe(e);
  }
  return reading(choices, chunks, error);
}

async function vercelAi(job, ai, compatible) {
  const provider = compatible.createOpenAICompatible({
    name: "replay", baseURL: URL_BASE, apiKey: "replay", fetch: recordedFetch(job),
  });
  const choice = { index: 0, content: "", tool_calls: {}, finish_reason: null };
  let chunks = 0;
  let error = null;
  let seen = false;
  const result = ai.streamText({
    model: provider.chatModel("replay"), prompt: "Hi", maxRetries: 0, includeRawChunks: true,
    onError() {},
  });
  try {
    for await (const part of result.fullStream) {
      if (part.type === "raw") chunks += 1;
      else if (part.type === "text-delta") { choice.content += part.text; seen = true; }
      else if (part.type === "tool-call") {
        const n = Object.keys(choice.tool_calls).length;
        const input = typeof part.input === "string" ? part.input : JSON.stringify(part.input);
        choice.tool_calls[n] = { index: n, id: part.toolCallId || null, name: part.toolName || "", arguments: input };
        seen = true;
      } else if (part.type === "finish-step") {
        choice.finish_reason = part.rawFinishReason ?? null;
        seen = seen || choice.finish_reason !== null;
      } else if (part.type === "error") {
        error = error || describe(part.error);
      }
    }
  } catch (e) {
    error = error || describe(e);
  }
  return reading(seen ? { 0: choice } : {}, chunks, error);
}

function withTimeout(promise) {
  let timer;
  const limit = new Promise((resolve) => {
    timer = setTimeout(
      () => resolve({ choices: [], chunks: 0, error: `Timeout: no result within ${PER_REPLAY_MS} ms` }),
      PER_REPLAY_MS,
    );
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function loadRunners(wanted) {
  const runners = {};
  if (wanted.has("openai-node")) {
    const OpenAI = (await import("openai")).default;
    runners["openai-node"] = (job) => openaiNode(job, OpenAI);
  }
  if (wanted.has("vercel-ai")) {
    const ai = await import("ai");
    const compatible = await import("@ai-sdk/openai-compatible");
    runners["vercel-ai"] = (job) => vercelAi(job, ai, compatible);
  }
  return runners;
}

// Resolves when standard input ends; `wait(ms)` sleeps until then, or for at most `ms`.
function inputEnd() {
  let ended = false;
  let wake = () => {};
  const end = () => {
    ended = true;
    wake();
  };
  process.stdin.on("data", () => {});
  process.stdin.on("end", end);
  process.stdin.on("error", end);
  process.stdin.resume();
  return {
    ended: () => ended,
    wait: (ms) =>
      new Promise((resolve) => {
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
  };
}

async function main() {
  const [folder, ...libraries] = process.argv.slice(2);
  process.on("SIGINT", () => {}); // Ctrl-C is the session's: it ends this worker

  const input = inputEnd();
  const runners = await loadRunners(new Set(libraries));
  const seen = new Set();
  for (;;) {
    const last = input.ended();
    const names = readdirSync(folder)
      .filter((name) => name.endsWith(".json") && !seen.has(name))
      .sort();
    for (const name of names) {
      seen.add(name);
      const job = JSON.parse(readFileSync(join(folder, name), "utf8"));
      const only = job.only && job.only.length ? new Set(job.only) : null;
      for (const [library, run] of Object.entries(runners)) {
        if (only && !only.has(library)) continue;
        const reading = await withTimeout(run(job));
        writeSync(1, JSON.stringify({ file: name, library, reading }) + "\n");
      }
    }
    if (last) break;
    if (names.length === 0) await input.wait(POLL_MS);
  }
  process.exit(0);
}

main().catch((e) => {
  process.stderr.write(describe(e));
  process.exit(1);
});
