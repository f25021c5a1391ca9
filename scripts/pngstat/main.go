// Command pngstat says whether a screenshot shows something: it prints a
// PNG's size, distinct colours, non-white share and strongly coloured
// pixels, and exits 1 when the image looks blank. scripts/report_render.sh
// runs it on the report's screenshot (no Python or ImageMagick needed).
package main

import (
	"fmt"
	"image/png"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: pngstat FILE.png")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
	b := img.Bounds()
	colours := map[uint32]bool{}
	nonWhite, coloured := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			colours[r<<16|g<<8|bl] = true
			if r < 240 || g < 240 || bl < 240 {
				nonWhite++
			}
			// Chart lines are saturated; text, grid and frame are grey.
			if max(r, g, bl)-min(r, g, bl) > 60 {
				coloured++
			}
		}
	}
	share := 100 * float64(nonWhite) / float64(max(1, b.Dx()*b.Dy()))
	fmt.Printf("%s: %dx%d, %d colours, %.1f%% not white, %d coloured pixels\n",
		os.Args[1], b.Dx(), b.Dy(), len(colours), share, coloured)
	if len(colours) < 100 || share < 1 || coloured < 500 {
		fmt.Fprintf(os.Stderr, "%s looks blank (want >= 100 colours, >= 1%% not white, >= 500 coloured pixels)\n", os.Args[1])
		os.Exit(1)
	}
}
