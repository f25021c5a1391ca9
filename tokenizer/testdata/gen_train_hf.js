// Regenerates train_hf.jsonl, the evidence that `align tokenizer train` agrees
// with HuggingFace's own tokenizers library (Rust, npm "tokenizers@0.23.2"):
//
//  1. "trainings": HuggingFace's BpeTrainer learns merges from Moby-Dick
//     (GPT-2 ByteLevel pre-tokenizer, and Qwen2's Split regex with NFC) and
//     from small random corpora that stress the pre-tokenizer and the tie
//     breaks (counts there are tiny, so most choices are ties).
//     TestTrainMatchesHuggingFace must learn the same merges, in order.
//  2. "encode": HuggingFace loads the tokenizer.json that align wrote for
//     Moby-Dick at vocab 8192 and encodes corpus lines and chat-formatted
//     strings; TestTrainedEncodesLikeHuggingFace compares ids.
//
// HuggingFace trains with the model's default trainer (vocab 30000, no
// initial alphabet, no special tokens), so its ids differ from ours (only
// the bytes seen, nothing before them), but they keep the same relative
// order, so the tie-breaks and hence the merges are the same. Its Moby-Dick
// runs are longer; their first merges are compared (hash plus a verbatim
// head), while the small corpora run to exhaustion in both and are compared
// whole.
//
// Moby-Dick is the repository's copy (testdata/corpora/moby-dick.txt.gz;
// provenance in testdata/README.md).
//
// Usage, from tokenizer/testdata:
//   gunzip -c ../../testdata/corpora/moby-dick.txt.gz > /tmp/moby-dick.txt
//   go run ../../cmd/align tokenizer train -q --text /tmp/moby-dick.txt \
//     --vocab-size 8192 --out /tmp/align-tok8k
//   npm install tokenizers@0.23.2
//   NODE_PATH=node_modules node gen_train_hf.js ../../testdata /tmp/align-tok8k/tokenizer.json train_hf.jsonl
const fs = require("fs");
const os = require("os");
const path = require("path");
const crypto = require("crypto");
const zlib = require("zlib");
const { Tokenizer } = require("tokenizers");

const [testdata, ours, outFile] = process.argv.slice(2);
const mergeStr = (m) => (Array.isArray(m) ? m.join(" ") : m);
const tmp = (name) => path.join(os.tmpdir(), `gen-train-hf-${process.pid}-${name}`);

const QWEN2 =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const preTokenizers = {
  gpt2: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
  qwen2: {
    type: "Sequence",
    pretokenizers: [
      { type: "Split", pattern: { Regex: QWEN2 }, behavior: "Isolated", invert: false },
      { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  },
};

// hfTrain runs HuggingFace's training on a file and returns its merges.
function hfTrain(file, pattern, nfc) {
  const spec = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: nfc ? { type: "NFC" } : null,
    pre_tokenizer: preTokenizers[pattern],
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: { type: "BPE", dropout: null, unk_token: null, fuse_unk: false, byte_fallback: false, vocab: {}, merges: [] },
  };
  const tok = Tokenizer.fromString(JSON.stringify(spec));
  tok.train([file]);
  const out = tmp("trained.json");
  tok.save(out);
  const merges = JSON.parse(fs.readFileSync(out, "utf8")).model.merges.map(mergeStr);
  fs.unlinkSync(out);
  return merges;
}

let seed = 20240611;
function rnd(n) {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed % n;
}
const pieces = [
  "a", "ab", "abc", "b", "ba", "Z", "the", " the", "The", "é", "e\u0301", "ж", "日本", "ſ",
  "0", "42", "7", "٣", "½", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000",
  "'s", "'S", "'ll", "'", "\"", "?!", "...", "-", "(", ")", "😀", "aaaa", "aaaaaaa",
];

(async () => {
  const trainings = [];
  // HuggingFace's trainer reads files: the corpus is decompressed to one.
  const moby = tmp("moby-dick.txt");
  fs.writeFileSync(moby, zlib.gunzipSync(fs.readFileSync(path.join(testdata, "corpora", "moby-dick.txt.gz"))));
  for (const [pattern, nfc, compared] of [["gpt2", false, 8192 - 4 - 256], ["qwen2", true, 4096 - 4 - 256]]) {
    const merges = hfTrain(moby, pattern, nfc);
    const head = merges.slice(0, compared);
    trainings.push({
      corpus: "corpora/moby-dick.txt",
      pattern,
      nfc,
      merges_compared: compared,
      merges_sha256: crypto.createHash("sha256").update(head.join("\n")).digest("hex"),
      merges_head: merges.slice(0, 100),
    });
    console.error(`moby-dick ${pattern} nfc=${nfc}: HF learned ${merges.length} merges`);
  }
  for (let c = 0; c < 24; c++) {
    let text = "";
    const n = 20 + rnd(120);
    for (let k = 0; k < n; k++) text += pieces[rnd(pieces.length)];
    const file = tmp("corpus.txt");
    fs.writeFileSync(file, text);
    const pattern = c % 2 === 0 ? "gpt2" : "qwen2";
    const nfc = c % 4 === 3;
    trainings.push({ text, pattern, nfc, merges: hfTrain(file, pattern, nfc) });
    fs.unlinkSync(file);
  }

  // Encoding with the tokenizer align trained.
  const tok = Tokenizer.fromFile(ours);
  const oursJSON = JSON.parse(fs.readFileSync(ours, "utf8"));
  const oursMerges = oursJSON.model.merges.map(mergeStr);
  const hfHash = crypto.createHash("sha256").update(oursMerges.join("\n")).digest("hex");
  console.error(`align's tokenizer.json merges ${hfHash === trainings[0].merges_sha256 ? "equal" : "DIFFER FROM"} HF's`);
  const lines = fs.readFileSync(moby, "utf8").split("\n");
  const texts = [];
  for (let i = 0; i < lines.length && texts.length < 300; i += 67) {
    // Lines with their newline, pairs of lines, and bare lines.
    if (i % 3 === 0) texts.push(lines[i] + "\n");
    else if (i % 3 === 1) texts.push(lines[i] + "\n" + lines[i + 1]);
    else texts.push(lines[i]);
  }
  texts.push(
    "<|im_start|>user\nWho is Ahab?<|im_end|>\n<|im_start|>assistant\nThe captain of the Pequod.<|im_end|>\n",
    "Call me Ishmael.<|endoftext|>It is a way I have<|pad|><|pad|>",
    "naïve café — “quoted” ‘text’ 1851 ½ 日本語 😀\t\ttabs   spaces\r\nCRLF",
    "<|im_start|><|im_end|><|im_",
    "   leading and trailing   ",
    "'s 'll 've don't WON'T",
  );
  const encode = [];
  let roundTrip = 0;
  for (const text of texts) {
    const e = await tok.encode(text, null, { addSpecialTokens: false });
    const ids = Array.from(e.getIds());
    if ((await tok.decode(ids, false)) === text) roundTrip++;
    encode.push({ text, ids });
  }
  console.error(`HF encoded ${texts.length} strings with align's tokenizer; ${roundTrip} decode back exactly`);
  // One JSON object per line, so that the fixture diffs readably.
  const rows = [{ kind: "encode_config", vocab_size: 8192, special_tokens: oursJSON.added_tokens.map((a) => a.content) }];
  for (const t of trainings) rows.push({ kind: "training", ...t });
  for (const e of encode) rows.push({ kind: "encode", ...e });
  // Written to a file: HuggingFace's trainer prints blank lines on stdout.
  fs.writeFileSync(outFile, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  fs.unlinkSync(moby);
})();
