package data

import (
	"reflect"
	"testing"

	"github.com/align-go/align/chat"
)

func TestSFTFormats(t *testing.T) {
	conv := func(m ...chat.Message) SFTExample {
		return SFTExample{Kind: KindConversation, Conversational: true, Messages: m}
	}
	cases := []struct {
		name   string
		row    string
		format Format
		want   SFTExample
	}{
		{"text", `{"text":"Call me Ishmael."}`, FormatText,
			SFTExample{Kind: KindText, Text: "Call me Ishmael."}},
		{"messages", `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello."}]}`,
			FormatMessages, conv(sys("Be brief."), u("Hi"), a("Hello."))},
		{"messages multi-turn with extra keys", `{"messages":[{"role":"user","content":"1+1?","name":"x"},{"role":"assistant","content":"2"},{"role":"user","content":"and 2+2?"},{"role":"assistant","content":"4"}],"id":7}`,
			FormatMessages, conv(u("1+1?"), a("2"), u("and 2+2?"), a("4"))},
		{"messages content parts", `{"messages":[{"role":"user","content":[{"type":"text","text":"Hel"},{"type":"text","text":"lo"}]},{"role":"assistant","content":"Hi"}]}`,
			FormatMessages, conv(u("Hello"), a("Hi"))},
		{"messages wins over text", `{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"r"}],"text":"rendered"}`,
			FormatMessages, conv(u("q"), a("r"))},
		{"sharegpt", `{"conversations":[{"from":"system","value":"S"},{"from":"human","value":"q1"},{"from":"gpt","value":"r1"},{"from":"user","value":"q2"},{"from":"assistant","value":"r2"}]}`,
			FormatShareGPT, conv(sys("S"), u("q1"), a("r1"), u("q2"), a("r2"))},
		{"sharegpt system field", `{"system":"S","conversations":[{"from":"Human","value":"q"},{"from":"GPT","value":"r"}]}`,
			FormatShareGPT, conv(sys("S"), u("q"), a("r"))},
		{"alpaca with input", `{"instruction":"Translate to French.","input":"cat","output":"chat"}`,
			FormatAlpaca, conv(u("Translate to French.\n\ncat"), a("chat"))},
		{"alpaca empty input", `{"instruction":"Name a colour.","input":"","output":"Red"}`,
			FormatAlpaca, conv(u("Name a colour."), a("Red"))},
		{"alpaca null input, no input key, system", `{"instruction":"Name a colour.","input":null,"output":"Red","system":"S"}`,
			FormatAlpaca, conv(sys("S"), u("Name a colour."), a("Red"))},
		{"alpaca without input key", `{"instruction":"Name a colour.","output":"Red"}`,
			FormatAlpaca, conv(u("Name a colour."), a("Red"))},
		{"prompt completion strings", `{"prompt":"The sky is","completion":" blue."}`, FormatPromptCompletion,
			SFTExample{Kind: KindPromptCompletion, PromptText: "The sky is", CompletionText: " blue."}},
		{"prompt completion empty prompt", `{"prompt":"","completion":"x"}`, FormatPromptCompletion,
			SFTExample{Kind: KindPromptCompletion, CompletionText: "x"}},
		{"prompt completion messages", `{"prompt":[{"role":"system","content":"S"},{"role":"user","content":"q"}],"completion":[{"role":"assistant","content":"r"}]}`,
			FormatPromptCompletion, SFTExample{Kind: KindPromptCompletion, Conversational: true,
				Prompt: msgs(sys("S"), u("q")), Completion: msgs(a("r"))}},
		{"prompt completion multi-turn completion", `{"prompt":[{"role":"user","content":"q"}],"completion":[{"role":"assistant","content":"r"},{"role":"user","content":"q2"},{"role":"assistant","content":"r2"}]}`,
			FormatPromptCompletion, SFTExample{Kind: KindPromptCompletion, Conversational: true,
				Prompt: msgs(u("q")), Completion: msgs(a("r"), u("q2"), a("r2"))}},
		{"prompt string, completion messages", `{"prompt":"q","completion":[{"role":"assistant","content":"r"}]}`,
			FormatPromptCompletion, SFTExample{Kind: KindPromptCompletion, Conversational: true,
				Prompt: msgs(u("q")), Completion: msgs(a("r"))}},
		{"prompt messages, completion string", `{"prompt":[{"role":"user","content":"q"}],"completion":"r"}`,
			FormatPromptCompletion, SFTExample{Kind: KindPromptCompletion, Conversational: true,
				Prompt: msgs(u("q")), Completion: msgs(a("r"))}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "data.jsonl", c.row+"\n")
			got, rep, err := ReadSFT(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Format != c.format || rep.Rows != 1 || rep.Skipped != 0 {
				t.Fatalf("report %+v, want format %s and 1 row", rep, c.format)
			}
			want := c.want
			want.Loc = p + ":1"
			if !reflect.DeepEqual(got, []SFTExample{want}) {
				t.Fatalf("got  %+v\nwant %+v", got[0], want)
			}
		})
	}
}

func TestSFTErrors(t *testing.T) {
	cases := []struct {
		name, row string
		format    Format
		want      string
	}{
		{"unknown role", `{"messages":[{"role":"user","content":"q"},{"role":"bot","content":"r"}]}`, "",
			`data.jsonl:1: field "messages[1].role": unknown role "bot" (want system, user or assistant)`},
		{"role not a string", `{"messages":[{"role":1,"content":"q"}]}`, "",
			`data.jsonl:1: field "messages[0].role": want string, got number`},
		{"missing content", `{"messages":[{"role":"user"}]}`, "",
			`data.jsonl:1: missing field "messages[0].content"`},
		{"null content", `{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":null}]}`, "",
			`data.jsonl:1: field "messages[1].content": want string, got null`},
		{"image part", `{"messages":[{"role":"user","content":[{"type":"image"}]},{"role":"assistant","content":"r"}]}`, "",
			`data.jsonl:1: field "messages[0].content[0].type": unsupported content part "image" (only text)`},
		{"message not an object", `{"messages":["hi"]}`, "",
			`data.jsonl:1: field "messages[0]": want object, got string`},
		{"messages not a list", `{"messages":{"role":"user"}}`, "",
			`data.jsonl:1: field "messages": want list of messages, got object`},
		{"empty assistant", `{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"  \n"}]}`, "",
			`data.jsonl:1: field "messages[1].content": empty assistant turn`},
		{"two user turns", `{"messages":[{"role":"user","content":"q"},{"role":"user","content":"q"},{"role":"assistant","content":"r"}]}`, "",
			`data.jsonl:1: field "messages[1].role": two user turns in a row; turns must alternate user/assistant`},
		{"starts with assistant", `{"messages":[{"role":"assistant","content":"r"},{"role":"user","content":"q"},{"role":"assistant","content":"r"}]}`, "",
			`data.jsonl:1: field "messages[0].role": conversation must start with a user turn, got assistant`},
		{"ends with user", `{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"r"},{"role":"user","content":"q2"}]}`, "",
			`data.jsonl:1: field "messages[2].role": conversation must end with an assistant turn, got user`},
		{"late system", `{"messages":[{"role":"user","content":"q"},{"role":"system","content":"S"},{"role":"assistant","content":"r"}]}`, "",
			`data.jsonl:1: field "messages[1].role": system message must be the first message`},
		{"only system", `{"messages":[{"role":"system","content":"S"}]}`, "",
			`data.jsonl:1: field "messages": no user or assistant turns`},
		{"empty messages", `{"messages":[]}`, "",
			`data.jsonl:1: field "messages": no user or assistant turns`},
		{"sharegpt unknown speaker", `{"conversations":[{"from":"human","value":"q"},{"from":"function_call","value":"{}"}]}`, "",
			`data.jsonl:1: field "conversations[1].from": unknown speaker "function_call" (want human, gpt or system)`},
		{"sharegpt missing value", `{"conversations":[{"from":"human"}]}`, "",
			`data.jsonl:1: missing field "conversations[0].value"`},
		{"sharegpt ends with human", `{"conversations":[{"from":"human","value":"q"}]}`, "",
			`data.jsonl:1: field "conversations[0].role": conversation must end with an assistant turn, got user`},
		{"sharegpt system field names its column", `{"system":"S","conversations":[{"from":"gpt","value":"r"}]}`, "",
			`data.jsonl:1: field "conversations[0].role": conversation must start with a user turn, got assistant`},
		{"alpaca empty output", `{"instruction":"i","output":""}`, "",
			`data.jsonl:1: field "output": empty`},
		{"alpaca input number", `{"instruction":"i","input":3,"output":"o"}`, "",
			`data.jsonl:1: field "input": want string, got number`},
		{"text empty", `{"text":""}`, "", `data.jsonl:1: field "text": empty`},
		{"text wrong type", `{"text":["a"]}`, "", `data.jsonl:1: field "text": want string, got list`},
		{"completion missing under override", `{"prompt":"p"}`, FormatPromptCompletion,
			`data.jsonl:1: missing field "completion"`},
		{"completion empty", `{"prompt":"p","completion":""}`, "",
			`data.jsonl:1: field "completion": empty`},
		{"completion wrong type", `{"prompt":"p","completion":1.5}`, "",
			`data.jsonl:1: field "completion": want string or list of messages, got number`},
		{"prompt ends with assistant", `{"prompt":[{"role":"user","content":"q"},{"role":"assistant","content":"r"}],"completion":[{"role":"assistant","content":"r"}]}`, "",
			`data.jsonl:1: field "prompt[1].role": conversation must end with a user turn, got assistant`},
		{"completion starts with user", `{"prompt":[{"role":"user","content":"q"}],"completion":[{"role":"user","content":"r"}]}`, "",
			`data.jsonl:1: field "completion[0].role": two user turns in a row; turns must alternate user/assistant`},
		{"empty completion list", `{"prompt":[{"role":"user","content":"q"}],"completion":[]}`, "",
			`data.jsonl:1: field "completion": no messages`},
		{"invalid JSON", `{"text": "a"`, "", `data.jsonl:1: invalid JSON: unexpected end of JSON input`},
		{"not an object", `["text"]`, "", `data.jsonl:1: row is not a JSON object (got list)`},
		{"unknown keys", `{"question":"q","answer":"a"}`, "",
			`data.jsonl:1: cannot tell the format from keys [answer question]; want messages, conversations, prompt+completion, instruction+output or text`},
		{"preference data", `{"prompt":"p","chosen":"a","rejected":"b"}`, "",
			`data.jsonl:1: row has chosen/rejected: this is preference data, not SFT data`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := writeFile(t, "data.jsonl", c.row+"\n")
			_, _, err := ReadSFT(p, Options{Format: c.format})
			checkErr(t, err, p, c.want)
		})
	}
}

func TestSFTFormatOverride(t *testing.T) {
	// The same row reads three ways depending on the forced format.
	row := `{"prompt":"p","completion":"c","text":"t","instruction":"i","output":"o"}`
	want := map[Format]SFTExample{
		FormatAuto:             {Kind: KindPromptCompletion, PromptText: "p", CompletionText: "c"},
		FormatText:             {Kind: KindText, Text: "t"},
		FormatAlpaca:           {Kind: KindConversation, Conversational: true, Messages: msgs(u("i"), a("o"))},
		FormatPromptCompletion: {Kind: KindPromptCompletion, PromptText: "p", CompletionText: "c"},
	}
	p := writeFile(t, "data.jsonl", row+"\n")
	for f, w := range want {
		got, _, err := ReadSFT(p, Options{Format: f})
		if err != nil {
			t.Fatalf("%q: %v", f, err)
		}
		w.Loc = p + ":1"
		if !reflect.DeepEqual(got[0], w) {
			t.Errorf("%q: got %+v want %+v", f, got[0], w)
		}
	}
	if _, err := OpenSFT(p, Options{Format: FormatPreference}); err == nil {
		t.Error("OpenSFT accepted the preference format")
	}
	if _, err := OpenSFT(p, Options{Format: "csv"}); err == nil {
		t.Error("OpenSFT accepted an unknown format")
	}
}
