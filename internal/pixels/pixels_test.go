package pixels

import (
	"image"
	"image/color"
	"testing"
)

// A 4×2 image by hand: 5 white, 1 light grey (not white, not coloured),
// 2 red (coloured, near the red palette entry).
func TestScan(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 2))
	for x := range 4 {
		for y := range 2 {
			img.Set(x, y, color.White)
		}
	}
	img.Set(0, 0, color.RGBA{200, 200, 200, 255})
	img.Set(1, 0, color.RGBA{230, 20, 20, 255})
	img.Set(2, 1, color.RGBA{220, 30, 25, 255})
	st := Scan(img, [][3]int{{225, 25, 20}, {0, 0, 255}})
	want := Stats{Colours: 4, NonWhite: 3, Coloured: 2, Near: []int{2, 0}}
	if st.Colours != want.Colours || st.NonWhite != want.NonWhite || st.Coloured != want.Coloured ||
		st.Near[0] != want.Near[0] || st.Near[1] != want.Near[1] {
		t.Fatalf("Scan = %+v, want %+v", st, want)
	}
}
