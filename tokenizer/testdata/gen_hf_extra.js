// Regenerates hf_extra.jsonl: ids from HuggingFace's own tokenizers library
// (Rust, npm "tokenizers@0.23.2") for random strings built from characters
// that stress the pre-tokenizer regexes, NFC and added-token matching.
// Usage: npm install tokenizers@0.23.2 && NODE_PATH=node_modules node gen_hf_extra.js ../../../shared > hf_extra.jsonl
const { Tokenizer } = require("tokenizers");
const shared = process.argv[2];
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
    gpt2: Tokenizer.fromFile(shared + "/tokenizers/gpt2/tokenizer.json"),
    qwen3: Tokenizer.fromFile(shared + "/tokenizers/qwen3/tokenizer.json"),
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
