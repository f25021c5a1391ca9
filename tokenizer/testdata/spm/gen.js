// Generates SentencePiece-style BPE tokenizer.json files (Llama 2 / Mistral
// layout) and reference encode/decode vectors with HuggingFace's tokenizers
// (npm tokenizers@0.23.2, the Rust library's Node binding):
//   mkdir -p /tmp/spm && cd /tmp/spm && npm install tokenizers@0.23.2
//   NODE_PATH=/tmp/spm/node_modules node gen.js   (run in this directory)
// The vocabulary and merges come from a tiny BPE trainer below, so the files
// are self-contained and deterministic.
const fs = require("fs");
const { Tokenizer } = require("tokenizers");

const corpus = `The quick brown fox jumps over the lazy dog. Hello world, hello there!
Language models are trained on text; the tokenizer splits the text into pieces.
In the beginning was the word, and the word was with the model. It is what it is.
We align models with preferences: supervised fine-tuning, reward models, and policy optimisation.
Numbers like 12345 and 2024 appear, as do names such as Alice, Bob and Carol.
This is a test of the tokenizer. These are the things that we think about when we think.`;

// Train merges over words spelled with the metaspace, as SentencePiece does.
function train(nMerges) {
  const words = new Map();
  for (const w of corpus.replace(/\n/g, " ").split(" ")) {
    if (!w) continue;
    const k = "\u2581" + w;
    words.set(k, (words.get(k) || 0) + 1);
  }
  let seqs = [...words.entries()].map(([w, c]) => [Array.from(w), c]);
  const chars = new Set();
  for (const [s] of seqs) for (const ch of s) chars.add(ch);
  const merges = [];
  for (let i = 0; i < nMerges; i++) {
    const counts = new Map();
    for (const [s, c] of seqs)
      for (let j = 0; j + 1 < s.length; j++) {
        const k = s[j] + "\u0000" + s[j + 1];
        counts.set(k, (counts.get(k) || 0) + c);
      }
    let best = null, bc = 1;
    for (const [k, c] of [...counts.entries()].sort()) if (c > bc) { best = k; bc = c; }
    if (!best) break;
    const [a, b] = best.split("\u0000");
    merges.push([a, b]);
    seqs = seqs.map(([s, c]) => {
      const o = [];
      for (let j = 0; j < s.length; j++) {
        if (j + 1 < s.length && s[j] === a && s[j + 1] === b) { o.push(a + b); j++; } else o.push(s[j]);
      }
      return [o, c];
    });
  }
  return { chars: [...chars].sort(), merges };
}

function hex2(b) { return b.toString(16).toUpperCase().padStart(2, "0"); }

function build(variant) {
  const { chars, merges } = train(300);
  const vocab = { "<unk>": 0, "<s>": 1, "</s>": 2 };
  for (let b = 0; b < 256; b++) {
    if (variant.dropByte === b) continue; // a hole: that byte falls back to unk
    vocab[`<0x${hex2(b)}>`] = 3 + b;
  }
  let next = 259;
  for (const ch of chars) if (!(ch in vocab)) vocab[ch] = next++;
  for (const [a, b] of merges) if (!((a + b) in vocab)) vocab[a + b] = next++;
  const added = ["<unk>", "<s>", "</s>"].map((c, i) => ({
    id: i, content: c, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  const seqDecoder = {
    type: "Sequence",
    decoders: [
      { type: "Replace", pattern: { String: "\u2581" }, content: " " },
      { type: "ByteFallback" },
      { type: "Fuse" },
      { type: "Strip", content: " ", start: 1, stop: 0 },
    ],
  };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: variant.normalizer,
    pre_tokenizer: variant.pre_tokenizer,
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "<s>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "<s>", type_id: 1 } }, { Sequence: { id: "B", type_id: 1 } },
      ],
      special_tokens: { "<s>": { id: "<s>", ids: [1], tokens: ["<s>"] } },
    },
    decoder: variant.decoder || seqDecoder,
    model: {
      type: "BPE", dropout: null, unk_token: "<unk>", continuing_subword_prefix: null,
      end_of_word_suffix: null, fuse_unk: true, byte_fallback: true, ignore_merges: false,
      vocab, merges,
    },
  };
}

const variants = {
  // Llama 2 / TinyLlama / Mistral v0.1 (older transformers export).
  old: {
    normalizer: {
      type: "Sequence",
      normalizers: [
        { type: "Prepend", prepend: "\u2581" },
        { type: "Replace", pattern: { String: " " }, content: "\u2581" },
      ],
    },
    pre_tokenizer: null,
  },
  // Newer exports: Metaspace pre-tokenizer, prepend only at the start.
  metaspace: {
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false },
    decoder: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false },
  },
  // Metaspace that always prepends and splits; no <0xF0> so 4-byte
  // characters fall back to (fused) unk.
  split: {
    normalizer: null,
    pre_tokenizer: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "always", split: true },
    dropByte: 0xf0,
  },
};

const base = [
  "", " ", "  ", "a", "Hello world", "hello world", " Hello world", "Hello world ", "Hello  world",
  "   leading spaces", "trailing spaces   ", "The quick brown fox jumps over the lazy dog.",
  "line one\nline two", "\n", "\n\n", "tab\there", "\t", "a\r\nb", "emoji 😀 here", "😀", "😀😀 😀",
  "中文字符", "日本語のテキスト", "한국어", "café naïve", "Ωmega", "<s>", "</s>", "<s>Hello", "Hello</s>",
  "<s> Hello </s>", "a<s>b", "<unk>", "<s><s>", "text <s> in </s> middle", "▁", "▁▁x", "x▁y",
  "<0x0A>", "12345", "2024-01-01", "Alice, Bob and Carol.", "models are trained", "\u00a0nbsp",
  "mixed 中 and 😀 and \n newline", "😀中", "😀中文 ok", "a😀😀b", "中😀", "x😀é😀", "zzzzzzzzzzzz", "QQQ XXX", "~!@#$%^&*()_+", "ends with newline\n",
];
const words = ["the", "model", "quick", "fox", "tokenizer", "😀", "中", " ", "\n", "is", "what", "Hello", "<s>", "xyz", "\t", "é"];
let seed = 12345;
function rnd(n) { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; }
const strings = [...base];
while (strings.length < 200) {
  const n = 1 + rnd(8);
  let s = "";
  for (let i = 0; i < n; i++) s += words[rnd(words.length)] + (rnd(3) ? " " : "");
  strings.push(s);
}

(async () => {
  for (const [name, v] of Object.entries(variants)) {
    const json = JSON.stringify(build(v), null, 1);
    fs.writeFileSync(`${name}.json`, json);
    const tok = Tokenizer.fromString(json);
    const rows = [];
    for (const s of strings) {
      const enc = await tok.encode(s, null, { addSpecialTokens: false });
      const ids = enc.getIds();
      const withSpecial = (await tok.encode(s, null, { addSpecialTokens: true })).getIds();
      rows.push({
        text: s, ids, tokens: enc.getTokens(), special_ids: withSpecial,
        decode: await tok.decode(ids, false), decode_skip: await tok.decode(withSpecial, true),
      });
    }
    fs.writeFileSync(`${name}.vectors.json`, JSON.stringify(rows, null, 0).replace(/\},\{/g, "},\n{") + "\n");
    console.log(name, rows.length);
  }
})();
