package tokenizer

// GPT-2's byte-level alphabet maps every byte to a printable rune so that
// vocabulary entries are valid, whitespace-free strings: printable Latin-1
// bytes map to themselves and the rest to U+0100 upwards in byte order.
var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = rune(256 + n)
			n++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// byteLevelEncode maps raw bytes to their byte-level vocabulary spelling.
func byteLevelEncode(raw string) string {
	out := make([]rune, len(raw))
	for i := 0; i < len(raw); i++ {
		out[i] = byteToRune[raw[i]]
	}
	return string(out)
}

// byteLevelDecode maps a vocabulary spelling back to raw bytes. ok is false
// when a rune lies outside the byte-level alphabet; such runes are kept as
// their UTF-8 encoding, as HuggingFace's ByteLevel decoder does.
func byteLevelDecode(tok string) (raw []byte, ok bool) {
	ok = true
	raw = make([]byte, 0, len(tok))
	for _, r := range tok {
		if b, found := runeToByte[r]; found {
			raw = append(raw, b)
		} else {
			ok = false
			raw = append(raw, string(r)...)
		}
	}
	return raw, ok
}
