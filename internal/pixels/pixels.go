// Package pixels counts what tells a rendered page from a blank one: the
// distinct colours of a screenshot, its pixels that are not white, the
// saturated ones (chart lines; text, grid and frames are grey) and those near
// given colours. The report's browser test and scripts/pngstat both judge
// screenshots by it.
package pixels

import "image"

// Stats is what Scan counts.
type Stats struct {
	Colours  int   // distinct 8-bit RGB colours
	NonWhite int   // pixels with a channel below 240
	Coloured int   // pixels whose channels spread by more than 60
	Near     []int // per palette entry, pixels within 30 (sum of channel differences)
}

// Scan counts img's pixels; palette holds 8-bit RGB colours to look for.
func Scan(img image.Image, palette [][3]int) Stats {
	st := Stats{Near: make([]int, len(palette))}
	colours := map[uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			colours[r<<16|g<<8|bl] = true
			if r < 240 || g < 240 || bl < 240 {
				st.NonWhite++
			}
			if max(r, g, bl)-min(r, g, bl) > 60 {
				st.Coloured++
			}
			for i, c := range palette {
				if abs(int(r)-c[0])+abs(int(g)-c[1])+abs(int(bl)-c[2]) < 30 {
					st.Near[i]++
				}
			}
		}
	}
	st.Colours = len(colours)
	return st
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
