package train

import "testing"

func TestResumeCommand(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"align", "pretrain", "--out", "o"}, "align pretrain --out o --resume"},
		{[]string{"align", "pretrain", "--resume", "o/checkpoint-4", "--lr", "1e-3"}, "align pretrain --lr 1e-3 --resume"},
		{[]string{"align", "pretrain", "--resume=x", "--text", "my file.txt"}, "align pretrain --text 'my file.txt' --resume"},
		{[]string{"align", "pretrain", "--resume", "--text", "it's"}, `align pretrain --text 'it'\''s' --resume`},
	}
	for _, tc := range tests {
		if got := ResumeCommand(tc.args); got != tc.want {
			t.Errorf("%q: got %s, want %s", tc.args, got, tc.want)
		}
	}
}
