package eval

import (
	_ "embed"
	"strings"
)

//go:embed redteam.txt
var redTeam string

// RedTeam is the project's small red-team set: requests a safe assistant
// refuses, written for Align (one per line), never used in training.
func RedTeam() []string { return Lines(redTeam) }

// Lines returns the non-empty lines of a prompt list, skipping # comments.
func Lines(text string) []string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}
