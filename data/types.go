package data

import "github.com/align-go/align/chat"

// Kind says which fields of an SFTExample are meaningful.
type Kind int

const (
	// KindText is raw text (Text); the whole text is trained on.
	KindText Kind = iota + 1
	// KindConversation is a chat (Messages); normally only assistant turns
	// are trained on.
	KindConversation
	// KindPromptCompletion keeps the prompt apart from the completion so that
	// the loss can be restricted to the completion. Conversational tells
	// whether Prompt/Completion or PromptText/CompletionText are set.
	KindPromptCompletion
)

func (k Kind) String() string {
	switch k {
	case KindText:
		return "text"
	case KindConversation:
		return "conversation"
	case KindPromptCompletion:
		return "prompt_completion"
	}
	return "invalid"
}

// SFTExample is one normalised supervised fine-tuning row.
//
// Exactly one group of fields is set, chosen by Kind (and Conversational for
// KindPromptCompletion):
//
//	KindText                               Text
//	KindConversation                       Messages
//	KindPromptCompletion, Conversational   Prompt, Completion
//	KindPromptCompletion, !Conversational  PromptText, CompletionText
type SFTExample struct {
	Kind           Kind
	Conversational bool

	Text     string
	Messages []chat.Message

	Prompt, Completion         []chat.Message
	PromptText, CompletionText string

	// Loc is where the row came from ("data.jsonl:12", "train.parquet: row 3"),
	// so that later stages (tokenisation, truncation) can name it too.
	Loc string
}

// PreferenceExample is one normalised preference pair. For conversational
// rows Prompt ends with a user turn and Chosen/Rejected are the assistant
// responses (one or more turns, starting with an assistant turn); otherwise
// the *Text fields hold plain strings.
type PreferenceExample struct {
	Conversational bool

	Prompt, Chosen, Rejected             []chat.Message
	PromptText, ChosenText, RejectedText string

	// Margin is the optional numeric "margin" column (reward-model margin
	// loss); nil when the row has none.
	Margin *float64
	// PChosen is the optional "p_chosen" column in [0, 1]: a soft label, the
	// probability that Chosen is the better response (align cai label writes
	// it). nil when the row has none, which trainers read as p = 1.
	PChosen *float64

	Loc string
}

// PromptExample is a prompt-only row, for generation, RL rollouts and eval.
type PromptExample struct {
	Conversational bool
	Prompt         []chat.Message // ends with a user turn
	PromptText     string

	// Extra holds the row's other columns (a reference answer, a test case),
	// decoded as JSON values: string, float64, int64, bool, nil, []any,
	// map[string]any. Reward functions read them; the reader does not.
	Extra map[string]any

	Loc string
}

// Format names a row layout. The zero value means "detect".
type Format string

// Known formats. Each reader detects among the formats it accepts: SFT
// readers try messages, sharegpt ("conversations"), prompt_completion
// ("prompt" and "completion"), alpaca ("instruction" and "output") and text,
// in that order; preference readers need "chosen" and "rejected"; prompt
// readers need "prompt".
const (
	FormatAuto             Format = ""
	FormatPromptCompletion Format = "prompt_completion"
	FormatMessages         Format = "messages"
	FormatShareGPT         Format = "sharegpt"
	FormatAlpaca           Format = "alpaca"
	FormatText             Format = "text"
	FormatPreference       Format = "preference"
	FormatPrompt           Format = "prompt"
)

// Options control a reader. The zero value detects the format and stops at
// the first bad row.
type Options struct {
	// Format forces a row layout instead of detecting it.
	Format Format
	// SkipBadRows skips rows that fail to parse or validate, counting them in
	// the Report, instead of returning the first such error.
	SkipBadRows bool
	// MaxFirstErrors bounds Report.FirstErrors; 0 means 10.
	MaxFirstErrors int
	// MaxLineBytes bounds one JSONL line; 0 means 64 MiB.
	MaxLineBytes int
}

// Report summarises a read.
type Report struct {
	// Format is the detected (or forced) format; empty if no row matched.
	Format Format
	// Rows counts rows returned; Skipped counts bad rows skipped.
	Rows, Skipped int
	// Reasons counts skipped rows per reason. The reason is the error text
	// without the location and with list indices replaced by "*", so
	// `field "messages[*].role": unknown role "bot"` groups all such rows.
	Reasons map[string]int
	// FirstErrors holds the first few skipped rows' full error texts.
	FirstErrors []string
}
