// Package data reads SFT, preference and prompt datasets from JSONL, JSON and
// Parquet files and normalises every row into one of a few plain Go shapes.
//
// The package deliberately stops at text: it knows nothing about tokenizers or
// chat templates, so the same rows can be rendered by any template later and
// the trainer can validate a whole file before spending a single step on it.
//
// Formats are detected per file from the first row that matches a known shape
// (see Format for the precedence) and can be forced with Options.Format. Every
// bad row is reported with the file, the line or row number and the field, in
// the form
//
//	data.jsonl:1234: missing field "completion"
//	train.parquet: row 17: field "messages[2].role": want string, got number
//
// JSONL rows are numbered by line (1-based, as editors show them); Parquet and
// JSON-array rows by their 0-based index, which is what datasets[i] and
// pandas use.
package data
