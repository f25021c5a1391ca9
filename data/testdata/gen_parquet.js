// Writes the Parquet fixtures in this folder with an implementation other
// than the one the Go reader uses: Apache Arrow JS builds the tables and
// arrow-rs (the Rust Parquet writer, via the parquet-wasm npm package)
// encodes them, with the nullable list<struct> layout HF datasets files have.
//
//   npm install apache-arrow@17 parquet-wasm@0.6.1 && node gen_parquet.js
const fs = require("fs");
const path = require("path");
const arrow = require("apache-arrow");
const pq = require("parquet-wasm/node");

const msgType = new arrow.Struct([
  new arrow.Field("content", new arrow.Utf8(), true),
  new arrow.Field("role", new arrow.Utf8(), true),
]);
// pyarrow >= 13 names the list child "element", older pyarrow "item".
const listOf = (child) => new arrow.List(new arrow.Field(child, msgType, true));

function write(name, columns) {
  const vectors = {};
  for (const [col, [type, values]] of Object.entries(columns)) {
    vectors[col] = arrow.vectorFromArray(values, type);
  }
  const table = new arrow.Table(vectors);
  const wasmTable = pq.Table.fromIPCStream(arrow.tableToIPC(table, "stream"));
  const props = new pq.WriterPropertiesBuilder()
    .setCompression(pq.Compression.SNAPPY)
    .setMaxRowGroupSize(2) // several row groups, so row numbering crosses them
    .build();
  fs.writeFileSync(path.join(__dirname, name), pq.writeParquet(wasmTable, props));
}

const m = (role, content) => ({ role, content });

write("chat.parquet", {
  prompt: [new arrow.Utf8(), ["Hi", "2+2?", "Name a colour.", "bad row", "null list", ""]],
  messages: [listOf("element"), [
    [m("user", "Hi"), m("assistant", "Hello! How can I help?")],
    [m("system", "Be terse."), m("user", "2+2?"), m("assistant", "4")],
    [m("user", "Name a colour."), m("assistant", "Blue."), m("user", "Another?"), m("assistant", "Green.")],
    [m("user", "bad row"), m("assistant", null)],
    null,
    [m("user", ""), m("assistant", "An empty user turn is allowed.")],
  ]],
  score: [new arrow.Float64(), [1.0, 2.5, null, 4.0, 5.0, 6.0]],
});

write("pref.parquet", {
  prompt: [new arrow.Utf8(), ["q1", "q2", "q3"]],
  chosen: [listOf("item"), [
    [m("user", "q1"), m("assistant", "good1")],
    [m("user", "q2"), m("assistant", "good2")],
    [m("user", "q3"), m("assistant", "same")],
  ]],
  rejected: [listOf("item"), [
    [m("user", "q1"), m("assistant", "bad1")],
    [m("user", "q2"), m("assistant", "bad2")],
    [m("user", "q3"), m("assistant", "same")],
  ]],
  margin: [new arrow.Float64(), [0.5, null, 1.0]],
});
