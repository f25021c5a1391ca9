// Regenerates hf_extra.jsonl: ids from HuggingFace's own tokenizers library
// (Rust, npm "tokenizers@0.23.2") for random strings built from characters
// that stress the pre-tokenizer regexes, NFC and added-token matching.
// The tokenizers are the repository's copies (testdata/tokenizers, gzipped;
// provenance in testdata/README.md).
// Usage, from tokenizer/testdata:
//   npm install tokenizers@0.23.2 && NODE_PATH=node_modules node gen_hf_extra.js ../../testdata > hf_extra.jsonl
const fs = require("fs");
const zlib = require("zlib");
const { Tokenizer } = require("tokenizers");
const testdata = process.argv[2];
// readRef reads testdata/rel, or its gzipped copy rel.gz.
function readRef(rel) {
  const p = testdata + "/" + rel;
  return fs.existsSync(p) ? fs.readFileSync(p, "utf8") : zlib.gunzipSync(fs.readFileSync(p + ".gz")).toString("utf8");
}
const pieces = [
  "a", "Z", "hello", " world", "é", "e\u0301", "ж", "日本", "ſ", "ǅ", "ﬁ",
  "0", "42", "12345", "٣", "²", "Ⅻ", "½",
  " ", "  ", "\t", "\n", "\r\n", "\r", "\u00a0", "\u3000", "\u2028", "\u0085", "\v", "\f", "\u001c", "\u200b",
  "'s", "'S", "'RE", "'ll", "'Ve", "'d", "'", "\"", "?!", "...", "-", "_", "(", ")", "<", ">", "|",
  "😀", "👩‍👧", "\u0000", "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_", "<think>", "</think>",
];
let seed = 12345;
function rnd(n) { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; }
(async () => {
  const toks = {
    gpt2: Tokenizer.fromString(readRef("tokenizers/gpt2/tokenizer.json")),
    qwen3: Tokenizer.fromString(readRef("tokenizers/qwen3/tokenizer.json")),
  };
  for (let i = 0; i < 400; i++) {
    let s = "";
    const n = 1 + rnd(12);
    for (let k = 0; k < n; k++) s += pieces[rnd(pieces.length)];
    for (const name of ["gpt2", "qwen3"]) {
      const e = await toks[name].encode(s, null, { addSpecialTokens: false });
      console.log(JSON.stringify({ tokenizer: name, text: s, ids: Array.from(e.getIds()) }));
    }
  }
})();
