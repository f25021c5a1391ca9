"""Reference renderings of chat templates with tools, for chat_tools_test.go.

Renders with Python Jinja2 set up exactly as transformers'
apply_chat_template sets it up (transformers/utils/chat_template_utils.py,
_compile_jinja_template: ImmutableSandboxedEnvironment with trim_blocks,
lstrip_blocks and loopcontrols; tojson = json.dumps(ensure_ascii=False, ...);
raise_exception; strftime_now), and with tool-call arguments parsed from
their JSON strings into dicts as vLLM does before rendering. transformers
itself is not installed here; Jinja2 3.1.6 is.

    python3 tokenizer/testdata/gen_tool_templates.py > tokenizer/testdata/tool_templates.jsonl
"""
import copy
import json
import os
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def compile_template(src):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.now().strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(src)


def render(tmpl, messages, tools, add_generation_prompt, variables):
    msgs = copy.deepcopy(messages)
    for m in msgs:
        for c in m.get("tool_calls", []):
            c["function"]["arguments"] = json.loads(c["function"]["arguments"])
    return tmpl.render(messages=msgs, tools=tools, documents=None, add_generation_prompt=add_generation_prompt, **variables)


WEATHER = {"type": "function", "function": {
    "name": "get_weather",
    "description": "Current weather in a city, in °C or °F — \"quoted\" & <tagged>",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. Zürich"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
        "precision": {"type": "number", "minimum": 0.5, "maximum": 1e20, "multipleOf": 0.0001},
        "days": {"type": "integer", "maximum": 14}},
        "required": ["city"], "additionalProperties": False}}}
CLOCK = {"type": "function", "function": {"name": "now", "description": "The time.",
                                          "parameters": {"type": "object", "properties": {}}}}
NOPARAMS = {"type": "function", "function": {"name": "ping"}}

CALL = {"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\",\"unit\":\"celsius\", \"days\": 3, \"x\": 1.50}"}}
CALL2 = {"id": "call_2", "type": "function", "function": {"name": "now", "arguments": "{}"}}

CASES = [
    ("qwen3", [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Weather in Paris?"}],
     [WEATHER, CLOCK, NOPARAMS], True),
    ("qwen3", [{"role": "user", "content": "Weather and time?"},
               {"role": "assistant", "content": "", "tool_calls": [CALL, CALL2]},
               {"role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "call_1"},
               {"role": "tool", "content": "12:00", "tool_call_id": "call_2"}],
     [WEATHER, CLOCK], True),
    ("qwen3", [{"role": "user", "content": "Paris?"},
               {"role": "assistant", "content": "Let me check.", "tool_calls": [CALL]},
               {"role": "tool", "content": "sunny", "tool_call_id": "call_1"},
               {"role": "assistant", "content": "Sunny."}],
     [WEATHER], False),
    ("qwen3", [{"role": "user", "content": "Hi"}], [], True),
    ("llama31", [{"role": "system", "content": "You are terse. "}, {"role": "user", "content": " Weather in Paris? "}],
     [WEATHER, CLOCK, NOPARAMS], True),
    ("llama31", [{"role": "user", "content": "Weather?"},
                 {"role": "assistant", "content": "", "tool_calls": [CALL]},
                 {"role": "tool", "content": "{\"temp\": 21}", "tool_call_id": "call_1"}],
     [WEATHER], True),
    ("llama31", [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], None, False),
]


def main():
    qwen = json.load(open(os.path.join(ROOT, "testdata/tokenizers/qwen3/tokenizer_config.json")))["chat_template"]
    llama = open(os.path.join(HERE, "llama31_style_tools.jinja")).read()
    templates = {"qwen3": (compile_template(qwen), {"eos_token": "<|im_end|>"}),
                 "llama31": (compile_template(llama), {"bos_token": "<|begin_of_text|>", "date_string": "26 Jul 2024"})}
    for name, messages, tools, gen in CASES:
        tmpl, variables = templates[name]
        out = render(tmpl, messages, tools, gen, variables)
        print(json.dumps({"template": name, "messages": messages, "tools": tools, "add_generation_prompt": gen,
                          "vars": variables, "rendered": out}, ensure_ascii=False))


main()
