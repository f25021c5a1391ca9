// Package nn holds the transformer's ops as explicit forward/backward pairs over
// flat float32 slices, in the spirit of llm.c: each op states its shapes, its
// forward writes its output, and its backward ACCUMULATES (+=) into the input and
// parameter gradients it is given. A nil gradient slice means "not needed"
// (frozen parameter, or an input whose gradient nobody reads) and is skipped.
//
// Shapes use N for rows (tokens, B*T), C for channels, B batch, T sequence
// length, NH query heads, NKV key/value heads, HS head size, V vocabulary.
package nn
