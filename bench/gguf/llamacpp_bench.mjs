// llama.cpp's speed on a GGUF file, through the prebuilt CPU build that npm
// node-llama-cpp ships (testdata/llamacpp): prompt processing of PROMPT
// tokens in one batch (pp) and batch-1 greedy decoding of GEN tokens (tg),
// each the best of ROUNDS. Prints one line: pp_tok_s=… tg_tok_s=…
// Usage: node llamacpp_bench.mjs FILE.gguf [PROMPT=512] [GEN=64] [ROUNDS=3] [THREADS=nproc]
import os from "node:os";
// node-llama-cpp is installed in testdata/llamacpp (the tests' pinned copy).
const { getLlama, LlamaLogLevel } = await import(
  new URL("../../testdata/llamacpp/node_modules/node-llama-cpp/dist/index.js", import.meta.url));

const [file, prompt = "512", gen = "64", rounds = "3", threads = String(os.availableParallelism())] = process.argv.slice(2);
const P = +prompt, G = +gen, R = +rounds, T = +threads;
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
const context = await model.createContext({ contextSize: P + G + 16, batchSize: P, sequences: 1, threads: T });
const seq = context.getSequence();
// A fixed prompt of P ids from the middle of the vocabulary (content does not
// change the arithmetic).
const ids = Array.from({ length: P }, (_, i) => 1000 + ((i * 7919) % 20000));
let pp = 0, tg = 0;
for (let r = 0; r < R; r++) {
  await seq.clearHistory();
  let t = process.hrtime.bigint();
  const out = await seq.controlledEvaluate(ids.map((id, i) => (i === P - 1 ? [id, { generateNext: { token: true } }] : id)));
  pp = Math.max(pp, P / (Number(process.hrtime.bigint() - t) / 1e9));
  const next = out[P - 1].next.token;
  // Decoding through evaluate's generator, the path llama.cpp's own
  // generation loop takes: each step feeds back the greedy token.
  t = process.hrtime.bigint();
  let n = 0;
  for await (const tok of seq.evaluate([next], { temperature: 0 })) {
    if (++n >= G) break;
  }
  tg = Math.max(tg, G / (Number(process.hrtime.bigint() - t) / 1e9));
}
console.log(`pp_tok_s=${pp.toFixed(1)} tg_tok_s=${tg.toFixed(1)} threads=${T}`);
await context.dispose();
await model.dispose();
