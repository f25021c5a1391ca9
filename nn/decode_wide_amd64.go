//go:build !purego

package nn

//go:noescape
func decW12x32AVX512(k int, w *float32, ldw int, xt *float32, c *float32, acc int, pf *float32)

//go:noescape
func decW12x16AVX512(k int, w *float32, ldw int, xt *float32, c *float32, acc int, pf *float32)

// decWB12x32BF16 and decWB12x16BF16 are the bf16 wide tiles
// (decode_wide_bf16_amd64.s): k and ldw count pairs of k; xt holds 32-bit
// words of two bf16 inputs. They need AVX512_BF16 (haveBF16Asm).
//
//go:noescape
func decWB12x32BF16(k int, w *uint16, ldw int, xt *float32, c *float32, acc int, pf *uint16)

//go:noescape
func decWB12x16BF16(k int, w *uint16, ldw int, xt *float32, c *float32, acc int, pf *uint16)

//go:noescape
func packXT16AVX512(k16 int, x *float32, ldx int, dst *float32, ldd int)

//go:noescape
func wideStoreT(c *float32, n int, out *float32, ldo int, bias *float32)
