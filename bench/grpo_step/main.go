// Command grpo_step supports bench/grpo_step/run.sh: "prompts" writes the
// quickstart task's 100 sum questions as chat prompts with their helpful
// answer in "answer"; "split DIR" summarises DIR/metrics.jsonl into the mean
// rollout, reward and training time of a GRPO step (skipping 5 warm-up steps).
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

var numbers = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
	"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen"}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "prompts" {
		enc := json.NewEncoder(os.Stdout)
		for a := 0; a < 10; a++ {
			for b := 0; b < 10; b++ {
				q := fmt.Sprintf("What is %s plus %s?", numbers[a], numbers[b])
				ans := fmt.Sprintf("%s%s plus %s is %s.", strings.ToUpper(numbers[a][:1]), numbers[a][1:], numbers[b], numbers[a+b])
				enc.Encode(map[string]any{"prompt": []map[string]string{{"role": "user", "content": q}}, "answer": ans})
			}
		}
		return
	}
	if len(os.Args) != 4 || os.Args[1] != "split" {
		fmt.Fprintln(os.Stderr, "usage: grpo_step prompts | grpo_step split DIR COMPLETIONS_PER_STEP")
		os.Exit(2)
	}
	if err := split(os.Args[2], os.Args[3]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func split(dir, perStep string) error {
	var n float64
	fmt.Sscan(perStep, &n)
	f, err := os.Open(dir + "/metrics.jsonl")
	if err != nil {
		return err
	}
	defer f.Close()
	keys := []string{"time/rollout_s", "time/reward_s", "time/train_s", "completion_length"}
	sum := map[string]float64{}
	rows := 0
	sc := bufio.NewScanner(f)
	for i := 0; sc.Scan(); i++ {
		if i < 5 {
			continue
		}
		var m map[string]float64
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return err
		}
		for _, k := range keys {
			sum[k] += m[k]
		}
		rows++
	}
	if rows == 0 {
		return fmt.Errorf("%s: fewer than 6 metrics rows", dir)
	}
	for k := range sum {
		sum[k] /= float64(rows)
	}
	total := sum["time/rollout_s"] + sum["time/reward_s"] + sum["time/train_s"]
	fmt.Printf("%s: %d steps; rollout %.1f ms (%.0f%%), reward %.1f ms (%.0f%%), train %.1f ms (%.0f%%); sum %.1f ms; rollout %.0f tokens/s (mean length %.2f)\n",
		dir, rows, 1e3*sum["time/rollout_s"], 100*sum["time/rollout_s"]/total, 1e3*sum["time/reward_s"], 100*sum["time/reward_s"]/total,
		1e3*sum["time/train_s"], 100*sum["time/train_s"]/total, 1e3*total, n*sum["completion_length"]/sum["time/rollout_s"], sum["completion_length"])
	return nil
}
