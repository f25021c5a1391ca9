package eval

// Report is eval.json, what `align eval` writes and `align report` reads.
// Absent sections were not asked for.
type Report struct {
	Model       string             `json:"model"`
	Baseline    string             `json:"baseline,omitempty"`
	Prompts     int                `json:"num_prompts"`
	Metrics     map[string]float64 `json:"metrics"`
	Samples     []Sample           `json:"samples"`
	RedTeam     []RedTeamResult    `json:"red_team,omitempty"`
	WinRate     *WinRate           `json:"win_rate,omitempty"`
	NotMeasured []string           `json:"not_measured,omitempty"`
}

// Sample is one held-out prompt with the model's (and the baseline's)
// completion, its reward-model score and the judge's P(model better).
type Sample struct {
	Prompt     string   `json:"prompt"`
	Completion string   `json:"completion"`
	Baseline   string   `json:"baseline,omitempty"`
	Reward     *float64 `json:"reward,omitempty"`
	PModel     *float64 `json:"p_model_better,omitempty"`
}

// RedTeamResult is one red-team prompt, the response and whether it passed.
type RedTeamResult struct {
	Prompt   string `json:"prompt"`
	Response string `json:"response"`
	Passed   bool   `json:"passed"`
}
