package report

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/align-go/align/internal/pixels"
)

// chromiumArgs keep a headless Chromium off the network and away from the
// user's profile (scripts/report_render.sh uses the same flags).
func chromiumArgs(profile string) []string {
	return []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + profile}
}

// findChromium skips the test where no Chromium is installed, unless CI
// demands it (ALIGN_REQUIRE_CHROMIUM=1), where a missing browser must fail
// rather than pass silently.
func findChromium(t *testing.T) string {
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	msg := "chromium not found (Debian: apt-get install chromium)"
	if os.Getenv("ALIGN_REQUIRE_CHROMIUM") == "1" {
		t.Fatal(msg + " and ALIGN_REQUIRE_CHROMIUM=1")
	}
	t.Skip(msg + "; set ALIGN_REQUIRE_CHROMIUM=1 to make this a failure")
	return ""
}

// TestRenderChromium renders a report in headless Chromium: the screenshot
// must show the charts (many colours, the runs' line colours present) and
// the DOM Chromium built must hold every chart's <svg>.
func TestRenderChromium(t *testing.T) {
	bin := findChromium(t)
	r, err := Load([]string{quickstartRoot(t)})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	if err := r.Save(page); err != nil {
		t.Fatal(err)
	}
	url := "file://" + page
	shot := filepath.Join(dir, "shot.png")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// One launch takes the screenshot and dumps the DOM (Chromium's start-up is
	// most of the test's CPU).
	var dom, stderr bytes.Buffer
	args := append(chromiumArgs(filepath.Join(dir, "p")), "--window-size=1200,2000", "--screenshot="+shot, "--dump-dom", url)
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = &dom, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium --screenshot --dump-dom: %v\n%s", err, stderr.Bytes())
	}
	shotOut := stderr.Bytes()

	if n, want := strings.Count(dom.String(), "<svg"), len(r.Charts()); n != want || want != 8 {
		t.Errorf("rendered DOM has %d <svg>, want %d (one per chart)", n, want)
	}
	for _, id := range r.Charts() {
		if !strings.Contains(dom.String(), `data-chart="`+id+`"`) {
			t.Errorf("rendered DOM lacks chart %s", id)
		}
	}

	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, shotOut)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	b := img.Bounds()
	if b.Dx() != 1200 || b.Dy() != 2000 {
		t.Errorf("screenshot is %v, want 1200x2000", b)
	}
	rgb := make([][3]int, len(palette))
	for i, c := range palette {
		var r, g, bl int
		if _, err := fmt.Sscanf(c, "#%02x%02x%02x", &r, &g, &bl); err != nil {
			t.Fatal(err)
		}
		rgb[i] = [3]int{r, g, bl}
	}
	st := pixels.Scan(img, rgb)
	colours, nonWhite, near := st.Colours, st.NonWhite, st.Near // pixels close to each run's colour
	if colours < 200 {
		t.Errorf("screenshot has %d distinct colours: blank or unstyled?", colours)
	}
	if frac := float64(nonWhite) / float64(b.Dx()*b.Dy()); frac < 0.02 {
		t.Errorf("only %.2f%% of the screenshot is not white", 100*frac)
	}
	// The fixture has five runs: each one's line colour must be on screen.
	for i := 0; i < len(r.Runs); i++ {
		if near[i] < 50 {
			t.Errorf("run %s: %d pixels of its colour %s in the screenshot", r.Runs[i].Name, near[i], palette[i])
		}
	}
	t.Logf("screenshot: %d colours, %.1f%% non-white, run-colour pixels %v", colours,
		100*float64(nonWhite)/float64(b.Dx()*b.Dy()), near[:len(r.Runs)])
}
