package tokenizer

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/align-go/align/chat"
	"github.com/align-go/align/internal/refdata"
)

// checkSpans checks RenderChatSpans' result against RenderChat's.
func checkSpans(t *testing.T, tok *Tokenizer, msgs []chat.Message, opt ChatOptions, plain string) {
	t.Helper()
	full, spans, err := tok.RenderChatSpans(msgs, opt)
	if err != nil {
		if !strings.HasPrefix(err.Error(), "messages[") && !strings.HasPrefix(err.Error(), "chat template") {
			t.Fatalf("span error names neither a message nor the template: %v", err)
		}
		return
	}
	if full != plain {
		t.Fatalf("RenderChatSpans rendered %q, RenderChat %q", full, plain)
	}
	prev := 0
	for _, s := range spans {
		if s.Start < prev || s.End < s.Start || s.End > len(full) {
			t.Fatalf("span %v out of order or bounds in %d bytes (spans %v)", s, len(full), spans)
		}
		prev = s.End
	}
}

// FuzzChatTemplate renders a fixed conversation with arbitrary template
// source. Seeds are real chat templates: Qwen3's (from its
// tokenizer_config.json), ChatML, and Llama-3-, Zephyr- and Mistral-style
// ones. A broken template must give an error, never a panic.
func FuzzChatTemplate(f *testing.F) {
	var qcfg struct {
		ChatTemplate string `json:"chat_template"`
	}
	if err := json.Unmarshal(refdata.ReadFile(f, "tokenizers/qwen3/tokenizer_config.json"), &qcfg); err != nil || qcfg.ChatTemplate == "" {
		f.Fatalf("qwen3 chat template: %v", err)
	}
	for _, s := range []string{
		qcfg.ChatTemplate, ChatMLTemplate,
		"{{ bos_token }}{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}",
		"{% for message in messages %}\n{% if message['role'] == 'user' %}\n{{ '<|user|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'system' %}\n{{ '<|system|>\\n' + message['content'] + eos_token }}\n{% elif message['role'] == 'assistant' %}\n{{ '<|assistant|>\\n'  + message['content'] + eos_token }}\n{% endif %}\n{% if loop.last and add_generation_prompt %}\n{{ '<|assistant|>' }}\n{% endif %}\n{% endfor %}",
		"{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% endif %}{% endfor %}",
		"{% set ns = namespace(n=0) %}{% for m in messages %}{% set ns.n = ns.n + 1 %}{{ m.content|tojson }}{% endfor %}{{ ns.n }}",
		"{{ messages[5].content }}", "{% if %}", "{{ 1/0 }}", "{% for %}", "{{",
	} {
		f.Add(s)
	}
	tok, err := ParseTokenizerJSON([]byte(minimal), "t.json")
	if err != nil {
		f.Fatal(err)
	}
	tok.cfg.BOSToken, tok.cfg.EOSToken = "<s>", "</s>"
	msgs := []chat.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "Hi"},
		{Role: "assistant", Content: "<think>\nhm\n</think>\n\nHello."}, {Role: "user", Content: "2+2?"}, {Role: "assistant", Content: "4"}}
	f.Fuzz(func(t *testing.T, src string) {
		tok.SetChatTemplate(src)
		for _, gen := range []bool{false, true} {
			out, err := tok.RenderChat(msgs, gen)
			if err != nil {
				if !strings.HasPrefix(err.Error(), "chat template") {
					t.Fatalf("error does not say it is the chat template's: %v", err)
				}
				continue
			}
			checkSpans(t, tok, msgs, ChatOptions{AddGenerationPrompt: gen}, out)
		}
	})
}

// FuzzChatMessages renders arbitrary two- and three-turn conversations with
// Qwen3's real template. Seeds are the messages of the chat-template vectors
// (testdata/tokenizer-vectors). Rendering must not panic, a user turn's text
// must appear verbatim, and assistant spans must lie in order within the
// rendering.
func FuzzChatMessages(f *testing.F) {
	rows := readJSONL[chatRow](f, refdata.Path(f, "tokenizer-vectors/qwen3_chat_template.jsonl"))
	for _, r := range rows {
		m := r.Messages
		if len(m) >= 3 {
			f.Add(m[0].Role, m[0].Content, m[1].Role, m[1].Content, m[2].Role, m[2].Content, r.AddGenerationPrompt, false)
		} else if len(m) == 2 {
			f.Add(m[0].Role, m[0].Content, m[1].Role, m[1].Content, "", "", r.AddGenerationPrompt, true)
		}
	}
	tok := qwen3(f)
	f.Fuzz(func(t *testing.T, r1, c1, r2, c2, r3, c3 string, gen, think bool) {
		msgs := []chat.Message{{Role: r1, Content: c1}, {Role: r2, Content: c2}}
		if r3 != "" {
			msgs = append(msgs, chat.Message{Role: r3, Content: c3})
		}
		opt := ChatOptions{AddGenerationPrompt: gen, Vars: map[string]any{"enable_thinking": think}}
		out, err := tok.RenderChatWith(msgs, opt)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "chat template") {
				t.Fatalf("error does not say it is the chat template's: %v", err)
			}
			return
		}
		for _, m := range msgs {
			if m.Role == "user" && !strings.Contains(out, m.Content) {
				t.Fatalf("user content %q missing from %q", m.Content, out)
			}
		}
		checkSpans(t, tok, msgs, opt, out)
	})
}
