package tokenizer

import (
	"fmt"
	"strings"

	"github.com/ardanlabs/jinja"

	"github.com/align-go/align/chat"
)

// ChatMLTemplate is used for models without a chat template. It is the
// ChatML layout transformers used as its default template.
const ChatMLTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// ChatOptions adjusts chat rendering.
type ChatOptions struct {
	// AddGenerationPrompt appends the header that starts an assistant turn.
	AddGenerationPrompt bool
	// Vars are extra template variables, e.g. "enable_thinking" for Qwen3.
	Vars map[string]any
	// Tools are the functions the model may call, rendered by the
	// template's tool section ("tools" is none when this is nil).
	Tools []chat.Tool
}

// chatTemplate is a compiled template. The engine (github.com/ardanlabs/jinja)
// renders HuggingFace's settings (trim_blocks, lstrip_blocks,
// raise_exception, namespace, loop, Python string methods, tojson) and
// matches every Qwen3 reference rendering.
type chatTemplate struct {
	src  string
	tmpl *jinja.Template
}

// ChatTemplateSource returns the template RenderChat uses.
func (t *Tokenizer) ChatTemplateSource() string {
	if t.cfg.ChatTemplate != "" {
		return t.cfg.ChatTemplate
	}
	return ChatMLTemplate
}

// SetChatTemplate replaces the chat template ("" restores the model's or
// ChatML). It must not be called concurrently with rendering.
func (t *Tokenizer) SetChatTemplate(src string) {
	t.cfg.ChatTemplate = src
	t.chat, t.chatErr = nil, nil
}

func (t *Tokenizer) template() (*chatTemplate, error) {
	src := t.ChatTemplateSource()
	t.chatMu.Lock()
	defer t.chatMu.Unlock()
	if t.chat != nil && t.chat.src == src {
		return t.chat, nil
	}
	if t.chatErr != nil && t.chatErrSrc == src {
		return nil, t.chatErr
	}
	tmpl, err := compileTemplate(src)
	if err != nil {
		t.chatErr, t.chatErrSrc = fmt.Errorf("chat template: %w", err), src
		return nil, t.chatErr
	}
	t.chat = &chatTemplate{src: src, tmpl: tmpl}
	return t.chat, nil
}

func compileTemplate(src string) (tmpl *jinja.Template, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("template engine failed: %v", r)
		}
	}()
	return jinja.Compile(routeToJSON(src))
}

// RenderChat renders messages with the model's chat template, as
// transformers' apply_chat_template(tokenize=False) does.
func (t *Tokenizer) RenderChat(messages []chat.Message, addGenerationPrompt bool) (string, error) {
	return t.RenderChatWith(messages, ChatOptions{AddGenerationPrompt: addGenerationPrompt})
}

// RenderChatWith is RenderChat with options.
func (t *Tokenizer) RenderChatWith(messages []chat.Message, opt ChatOptions) (string, error) {
	ct, err := t.template()
	if err != nil {
		return "", err
	}
	return t.render(ct, messages, opt)
}

func (t *Tokenizer) render(ct *chatTemplate, messages []chat.Message, opt ChatOptions) (out string, err error) {
	data := t.chatData(messages, opt)
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("chat template: engine failed: %v", r)
		}
	}()
	out, err = ct.tmpl.RenderValues(data)
	if err != nil {
		return "", fmt.Errorf("chat template: %w", err)
	}
	return out, nil
}

// sentinel marks the end of one message's content when locating it in a
// rendering; a private-use character no template produces or strips.
const sentinel = "\uE000"

// sentinelAt finds where plain and marked (plain with sentinel inserted
// once) differ and checks that the sentinel is all that differs.
func sentinelAt(plain, marked string) (int, bool) {
	p := 0
	for p < len(plain) && p < len(marked) && plain[p] == marked[p] {
		p++
	}
	if !strings.HasPrefix(marked[p:], sentinel) || marked[:p]+marked[p+len(sentinel):] != plain {
		return 0, false
	}
	return p, true
}

// RenderChatSpans renders messages and reports, for each assistant message
// in order, the byte span of the rendering the model must learn to produce:
// from the end of the generation prompt (what rendering the preceding
// messages with AddGenerationPrompt yields) through the message's content
// and the template's end-of-turn text (e.g. "<|im_end|>\n").
//
// It works by rendering prefixes and diffing, so it needs no template
// markup, but it requires the template to be prefix-stable up to each
// assistant turn; templates that are not (or that drop the content) yield an
// error naming the message rather than a wrong mask. Templates that rewrite
// earlier turns, like Qwen3 dropping old <think> blocks, are fine.
func (t *Tokenizer) RenderChatSpans(messages []chat.Message, opt ChatOptions) (string, []Span, error) {
	ct, err := t.template()
	if err != nil {
		return "", nil, err
	}
	full, err := t.render(ct, messages, opt)
	if err != nil {
		return "", nil, err
	}
	var spans []Span
	for i, m := range messages {
		if m.Role != "assistant" {
			continue
		}
		prompt, err := t.render(ct, messages[:i], ChatOptions{AddGenerationPrompt: true, Vars: opt.Vars, Tools: opt.Tools})
		if err != nil {
			return "", nil, fmt.Errorf("messages[%d]: rendering the prompt before it: %w", i, err)
		}
		if !strings.HasPrefix(full, prompt) {
			return "", nil, fmt.Errorf("messages[%d]: chat template is not prefix-stable: the rendering up to its generation prompt is not a prefix of the conversation", i)
		}
		marked := append([]chat.Message(nil), messages...)
		marked[i].Content += sentinel
		full2, err := t.render(ct, marked, opt)
		if err != nil {
			return "", nil, fmt.Errorf("messages[%d]: %w", i, err)
		}
		end, ok := sentinelAt(full, full2)
		if !ok || end < len(prompt) {
			return "", nil, fmt.Errorf("messages[%d]: cannot locate the assistant content in the rendering", i)
		}
		// The end-of-turn text is what follows the content when this
		// message ends the conversation.
		upto, err1 := t.render(ct, messages[:i+1], ChatOptions{Vars: opt.Vars, Tools: opt.Tools})
		upto2, err2 := t.render(ct, marked[:i+1], ChatOptions{Vars: opt.Vars, Tools: opt.Tools})
		if err1 == nil && err2 == nil {
			if p, ok := sentinelAt(upto, upto2); ok {
				tail := upto[p:]
				if strings.HasPrefix(full[end:], tail) {
					end += len(tail)
				} else if tt := strings.TrimRight(tail, " \t\r\n"); strings.HasPrefix(full[end:], tt) {
					end += len(tt)
				}
			}
		}
		spans = append(spans, Span{len(prompt), end})
	}
	return full, spans, nil
}

// EncodeChat renders messages and encodes the result (special-token text
// matched as special, nothing added). mask[k] is true for tokens that start
// inside an assistant span of RenderChatSpans: the tokens to train on.
func (t *Tokenizer) EncodeChat(messages []chat.Message, opt ChatOptions) (ids []int, mask []bool, err error) {
	text, spans, err := t.RenderChatSpans(messages, opt)
	if err != nil {
		return nil, nil, err
	}
	ids, offs := t.EncodeOffsets(text, EncodeOptions{})
	mask = make([]bool, len(ids))
	s := 0
	for k, o := range offs {
		for s < len(spans) && spans[s].End <= o.Start {
			s++
		}
		mask[k] = s < len(spans) && o.Start >= spans[s].Start && o.Start < spans[s].End
	}
	return ids, mask, nil
}
