// Reference runner for Align's GGUF export tests: loads GGUF files in
// llama.cpp (the prebuilt CPU build node-llama-cpp ships) and reports, for
// each request, llama.cpp's next-token log-probabilities after every
// position of fixed token sequences, and its tokenization of texts.
//
// Input (stdin): {"requests": [{"model": PATH, "sequences": [[ids...]],
//   "ids": [ids to report], "texts": [strings]}]}
// Output (stdout): {"results": [{"logprobs_f64": base64 of little-endian float64s, per
//   sequence, per position, per reported id (millions of numbers: as JSON text they
//   cost more to write and parse than llama.cpp takes to compute them),
//   "top": [[argmax per position]], "tokens": [[ids] per text], "vocab": n}]}
import { getLlama, LlamaLogLevel } from "node-llama-cpp";

const input = JSON.parse(await new Promise((resolve) => {
  let s = "";
  process.stdin.on("data", (d) => (s += d));
  process.stdin.on("end", () => resolve(s));
}));

const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
const results = [];
for (const req of input.requests) {
  const model = await llama.loadModel({ modelPath: req.model, gpuLayers: 0 });
  const out = { logprobs_f64: "", top: [], tokens: [], vocab: model.tokens.count ?? null };
  const lps = [];
  if (req.sequences && req.sequences.length) {
    const maxLen = Math.max(...req.sequences.map((s) => s.length));
    const context = await model.createContext({ contextSize: Math.max(64, maxLen + 8), batchSize: Math.max(64, maxLen + 8), sequences: 1, threads: 1,
      // f32 K/V cache and no flash attention: the f32 comparison should see only
      // summation-order differences, not an f16 cache.
      experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32", flashAttention: false });
    const sequence = context.getSequence();
    for (const seq of req.sequences) {
      await sequence.clearHistory();
      const items = seq.map((t) => [t, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }]);
      const res = await sequence.controlledEvaluate(items);
      const tops = [];
      for (let i = 0; i < seq.length; i++) {
        const probs = res[i]?.next?.probabilities;
        if (!probs) throw new Error(`no probabilities at position ${i}`);
        for (const id of req.ids) lps.push(Math.log(probs.get(id) ?? 0));
        tops.push(probs.keys().next().value);
      }
      out.top.push(tops);
    }
    sequence.dispose();
    await context.dispose();
    out.logprobs_f64 = Buffer.from(new Float64Array(lps).buffer).toString("base64");
  }
  for (const text of req.texts ?? []) {
    out.tokens.push(Array.from(model.tokenize(text, true)));
  }
  await model.dispose();
  results.push(out);
}
process.stdout.write(JSON.stringify({ results }));
