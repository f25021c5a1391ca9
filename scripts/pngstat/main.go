// Command pngstat says whether a screenshot shows something: it prints a
// PNG's size, distinct colours, non-white share and strongly coloured
// pixels, and exits 1 when the image looks blank. scripts/report_render.sh
// runs it on the report's screenshot (no Python or ImageMagick needed).
package main

import (
	"fmt"
	"image/png"
	"os"

	"github.com/align-go/align/internal/pixels"
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
	st := pixels.Scan(img, nil)
	colours, nonWhite, coloured := st.Colours, st.NonWhite, st.Coloured
	share := 100 * float64(nonWhite) / float64(max(1, b.Dx()*b.Dy()))
	fmt.Printf("%s: %dx%d, %d colours, %.1f%% not white, %d coloured pixels\n",
		os.Args[1], b.Dx(), b.Dy(), colours, share, coloured)
	if colours < 100 || share < 1 || coloured < 500 {
		fmt.Fprintf(os.Stderr, "%s looks blank (want >= 100 colours, >= 1%% not white, >= 500 coloured pixels)\n", os.Args[1])
		os.Exit(1)
	}
}
