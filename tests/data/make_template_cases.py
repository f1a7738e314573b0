#!/usr/bin/env python3
"""Renders every template in tests/data/templates with Python's jinja2, exactly as transformers'
apply_chat_template renders a chat template, and writes tests/data/templates/cases.json.

The jinja2 environment below mirrors transformers.utils.chat_template_utils
(_cached_compile_jinja_template / render_jinja_template): ImmutableSandboxedEnvironment with
trim_blocks and lstrip_blocks, the loopcontrols extension and the {% generation %} tag, a tojson
filter that is json.dumps(ensure_ascii=False, ...), and the raise_exception / strftime_now
globals. The render call passes messages, tools (None when not given), documents (None),
add_generation_prompt, the tokenizer's special tokens, and any extra keyword arguments
(enable_thinking), as apply_chat_template does.

Usage: /root/.cache/gemrt/venv/bin/python tests/data/make_template_cases.py
(needs `pip install jinja2`, >= 3.1)
"""
import json
import os
from datetime import datetime

import jinja2
import jinja2.ext
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE_DIR = os.path.join(HERE, "templates")

# Special tokens passed to every render, as transformers passes tokenizer.special_tokens_map.
SPECIAL_TOKENS = {"bos_token": "<bos>", "eos_token": "<eos>", "unk_token": "<unk>", "pad_token": "<pad>"}


class GenerationTag(Extension):
    """transformers' AssistantTracker, minus the index bookkeeping: {% generation %} renders its body."""

    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    def _generation_support(self, caller):
        return caller()


def compile_template(source):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return datetime.now().strftime(format)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, jinja2.ext.loopcontrols]
    )
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def build_context(conversation, add_generation_prompt, extra):
    """The keyword arguments transformers hands to template.render()."""
    ctx = {
        "messages": conversation["messages"],
        "tools": conversation.get("tools"),
        "documents": None,
        "add_generation_prompt": add_generation_prompt,
    }
    ctx.update(SPECIAL_TOKENS)
    ctx.update(extra)
    return ctx


# ----------------------------------------------------------------------------------------------
# Conversations

UNICODE_TEXT = "\u00a0 Grüße aus Zürich — 你好, мир! 🚀\n\nZweiter Absatz: ½ ≠ ∞.\t\u3000"

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": 'City name, e.g. "Zürich"'},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
                "days": {"type": "integer", "description": "Forecast days"},
                "include_hourly": {"type": "boolean"},
                "coords": {
                    "type": "object",
                    "description": "Latitude and longitude",
                    "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}},
                    "required": ["lat", "lon"],
                },
                "tags": {"type": "array", "items": {"type": "string"}, "description": "Free tags"},
                "note": {"type": ["string", "null"], "nullable": True, "description": "Optional note"},
            },
            "required": ["city"],
        },
    },
}

SEARCH_TOOL = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the web.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
        "response": {"type": "object", "description": "Search results"},
    },
}

TIME_TOOL = {"type": "function", "function": {"name": "get_time", "description": "Current time."}}

WEATHER_ARGS = {
    "city": "Paris",
    "unit": "celsius",
    "days": 3,
    "include_hourly": False,
    "coords": {"lat": 48.8566, "lon": 2.3522},
    "tags": ["a", "b"],
    "note": None,
    "ratio": 1e-07,
    "big": 1e17,
    "whole": 2.0,
}

CONVERSATIONS = {
    "single_user": {"messages": [{"role": "user", "content": "Hi there!"}]},
    "system_user": {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Name a color."},
        ]
    },
    "multi_turn": {
        "messages": [
            {"role": "user", "content": "2+2?"},
            {"role": "assistant", "content": "4"},
            {"role": "user", "content": "and 3+3?"},
        ]
    },
    "assistant_last": {
        "messages": [
            {"role": "user", "content": "Say hello."},
            {"role": "assistant", "content": "   Hello!  \n"},
        ]
    },
    "system_multi_turn": {
        "messages": [
            {"role": "system", "content": "  Answer in French.\n"},
            {"role": "user", "content": "Hello"},
            {"role": "assistant", "content": "Bonjour"},
            {"role": "user", "content": "Goodbye"},
        ]
    },
    "newlines_unicode": {
        "messages": [
            {"role": "user", "content": UNICODE_TEXT},
            {"role": "assistant", "content": "Line one\nLine two\n\n  indented {{ not a tag }} {% raw %} <b>&amp;</b>"},
            {"role": "user", "content": "Tabs\tand \"quotes\" and 'apostrophes' and \\backslashes\\"},
        ]
    },
    "empty_and_blank": {
        "messages": [
            {"role": "user", "content": ""},
            {"role": "assistant", "content": "   "},
            {"role": "user", "content": "\n\nok\n\n"},
        ]
    },
    "not_alternating": {
        "messages": [
            {"role": "user", "content": "one"},
            {"role": "user", "content": "two"},
        ]
    },
    "starts_with_assistant": {
        "messages": [
            {"role": "assistant", "content": "I speak first."},
            {"role": "user", "content": "OK."},
        ]
    },
    "list_content": {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Describe images briefly."}]},
            {
                "role": "user",
                "content": [{"type": "image"}, {"type": "text", "text": "  What is in this picture?  "}],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "A cat on a mat."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "And these?"},
                    {"type": "image"},
                    {"type": "audio"},
                    {"type": "video"},
                ],
            },
        ]
    },
    "thinking_in_history": {
        "messages": [
            {"role": "user", "content": "Greet me."},
            {"role": "assistant", "content": "<|channel>thought\nThe user wants a greeting.<channel|>Hello there!"},
            {"role": "user", "content": "Again."},
        ]
    },
    "developer_role": {
        "messages": [
            {"role": "developer", "content": "Be concise."},
            {"role": "user", "content": "Why is the sky blue?"},
        ]
    },
    "tools_native": {
        "tools": [WEATHER_TOOL, SEARCH_TOOL, TIME_TOOL],
        "messages": [
            {"role": "system", "content": "You can call tools."},
            {"role": "user", "content": "What's the weather in Paris?"},
            {
                "role": "assistant",
                "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": WEATHER_ARGS}}],
                "tool_responses": [
                    {"name": "get_weather", "response": {"temperature": 21.5, "condition": "sunny", "ok": True}}
                ],
            },
            {"role": "assistant", "content": "It is 21.5 °C and sunny in Paris."},
            {"role": "user", "content": "And the time?"},
            {
                "role": "assistant",
                "tool_calls": [{"type": "function", "function": {"name": "get_time", "arguments": "{}"}}],
                "tool_responses": [{"name": "get_time", "response": "12:00"}],
            },
        ],
    },
    "tools_openai": {
        "tools": [WEATHER_TOOL],
        "messages": [
            {"role": "user", "content": "Weather in Oslo and Rome?"},
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": "Two cities, two calls.",
                "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Oslo"}}},
                    {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Rome"}}},
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "name": "get_weather", "content": "-3 C, snow"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "18 C, clear"}]},
            {"role": "assistant", "content": "Oslo: -3 C with snow; Rome: 18 C and clear."},
        ],
    },
    "tools_only_user": {
        "tools": [SEARCH_TOOL],
        "messages": [{"role": "user", "content": "Find the tallest mountain."}],
    },
}

# Templates, and which conversations / extra kwargs each one is rendered with.
GEMMA4 = [
    "gemma4-31B-it-launch.jinja",
    "gemma4-31B-it.jinja",
    "gemma4-31B-it-interleaved.jinja",
    "gemma4-llamacpp.jinja",
]
TEMPLATES = ["gemma1-it.jinja", "gemma2-it.jinja", "gemma3-it.jinja"] + GEMMA4

TEXT_CONVERSATIONS = [
    "single_user",
    "system_user",
    "multi_turn",
    "assistant_last",
    "system_multi_turn",
    "newlines_unicode",
    "empty_and_blank",
    "not_alternating",
    "starts_with_assistant",
]


def plan():
    """(template, conversation, extra kwargs) triples; each is rendered with and without the
    generation prompt."""
    out = []
    for t in TEMPLATES:
        convs = list(TEXT_CONVERSATIONS)
        if t == "gemma3-it.jinja" or t in GEMMA4:
            convs.append("list_content")
        if t in GEMMA4:
            convs += ["thinking_in_history", "developer_role", "tools_native", "tools_openai", "tools_only_user"]
        for c in convs:
            out.append((t, c, {}))
        if t in GEMMA4:
            for c in ["single_user", "system_user", "tools_native", "tools_openai", "thinking_in_history"]:
                out.append((t, c, {"enable_thinking": True}))
                out.append((t, c, {"enable_thinking": False}))
    return out


# ----------------------------------------------------------------------------------------------
# Jinja feature snippets (rendered with SNIPPET_VARS): whitespace control, loops, scoping, macros,
# filters, tests, operators, Python methods and number / repr formatting, and errors.

SNIPPET_VARS = {
    "users": [
        {"name": "ann", "age": 31, "admin": True},
        {"name": "Bob", "age": 25, "admin": False},
        {"name": "cy", "admin": False},
    ],
    "d": {"b": 2, "a": 1, "C": 3},
    "x": {"y": {"z": "deep"}},
    "floats": [1.0, 1e-07, 1e16, 123456789012345678, 0.1, -0.0, 3.14159, 2.5e-5, 1e22, 12345.678],
    "u": "é😀\u00a0\u3000x",
    "empty": [],
    "nothing": None,
}

SNIPPETS = [
    # whitespace control, trim_blocks, lstrip_blocks, comments, raw, newlines
    "a\n  {% if true %}\n    b\n  {% endif %}\nc",
    "{% for i in [1, 2] %}\n{{ i }}\n{% endfor %}",
    "  {{- 'x' -}}  \n y",
    "{%- if true -%}  x  {%- endif -%}",
    "a {%+ if true %}b{% endif %}",
    "  {%+ if true %}b{% endif %}",
    "{# comment #}\nx",
    "  {# c #}\nx",
    "a{#- c -#}   b",
    "a {#+ c +#}\n b",
    "{% raw %}{{ x }}{% endraw %}",
    "x\n  {% raw %}\n  {{ y }}\n  {% endraw %}\nz",
    "x {%- raw -%}  {{ y }}  {%- endraw -%} z",
    "line1\r\nline2\rline3\r\n",
    "a\n\n",
    "{% if true %}  \n{% endif %}|",
    "{{ 'a' }}\n{{ 'b' }}\n",
    "  {%- if true %}y{% endif %}",
    "\t{% if true %}t{% endif %}\n",
    "{% if true %}x{% endif %}\n\n",
    "  {{ 'x' }}\n  {% if true %}y{% endif %}",
    "{%- for i in range(2) %}\n  {{ i }}\n{%- endfor %}",
    "{% for i in range(2) -%}\n  {{ i }}\n{% endfor %}",
    "a\n  {# c #}  \nb",
    "{% if true %}\u00a0 x{% endif %}",
    "x  \u3000{%- if true %}y{% endif %}",
    "{{ '{{' }} {{ '}}' }} {{ {'a': {'b': 1}} }}",
    # loops
    "{% for x in 'abc' %}{{ loop.index0 }}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}{{ loop.revindex0 }}|{% endfor %}",
    "{% for x in [1, 2, 3, 4] if x is even %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}",
    "{% for x in [] %}a{% else %}empty{% endfor %}",
    "{% for x in [1] if false %}a{% else %}filtered{% endfor %}",
    "{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }};{% endfor %}",
    "{% for k in {'b': 1, 'a': 2} %}{{ k }}{% endfor %}",
    "{% for k, v in d | dictsort %}{{ k }}{{ v }}{% endfor %}",
    "{% for k, v in d | dictsort(true) %}{{ k }}{{ v }}{% endfor %}",
    "{% for i in range(10) %}{% if i == 5 %}{% break %}{% endif %}{% if i is odd %}{% continue %}{% endif %}{{ i }}{% endfor %}",
    "{% for i in range(3) %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}",
    "{% for i in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}",
    "{% for a in [1, 2] %}{% for b in [3, 4] %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}{% endfor %}",
    "{% for (a, b) in [(1, 2), (3, 4)] %}{{ a + b }}{% endfor %}",
    "{% for c in 'héé' %}[{{ c }}]{% endfor %}",
    # scoping and set
    "{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}",
    "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }} {% endfor %}{{ x }}",
    "{% set ns = namespace(x=1) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}",
    "{% if true %}{% set y = 5 %}{% endif %}{{ y }}",
    "{% set x %}  hello {{ 1 + 1 }} {% endset %}[{{ x }}]",
    "{% set x | upper %}abc{% endset %}{{ x }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}",
    "{% set t = (1, 'a') %}{{ t }} {{ t | length }} {{ t[1] }}",
    "{% set ns = namespace({'a': 1}, b=2) %}{{ ns.a }}{{ ns.b }}{{ ns.c is defined }}{{ ns['a'] }}",
    "{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}{{ a is defined }}",
    "{% filter upper %}hello {{ 'x' }}{% endfilter %}",
    "{% generation %}gen{% endgeneration %}",
    # macros
    "{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }} {{ greet() }}",
    "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}",
    "{% macro m() %}{{ v }}{% endmacro %}{% set v = 'late' %}{{ m() }}",
    "{% macro m(a, b) %}{{ a }}|{{ b }}|{{ b is defined }}{% endmacro %}{{ m(1) }}",
    "{% macro m(a, b=a * 2) %}{{ b }}{% endmacro %}{{ m(3) }} {{ m(3, 1) }} {{ m(b=5, a=0) }}",
    "{% macro m() %}  x  {% endmacro %}[{{ m() | trim }}]{{ m() ~ '!' }}",
    "{% for i in [1, 2] %}{% macro m() %}{{ i }}{% endmacro %}{{ m() }}{% endfor %}",
    # filters
    "{{ '  x  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ u | trim }}|{{ none | trim }}|{{ nothing_here | trim }}|",
    "{{ [1, 2, 3] | length }}{{ 'héllo' | length }}{{ {'a': 1} | length }}{{ u | length }}{{ undefined_var | length }}",
    "{{ 'Grüße straße' | upper }} {{ 'ÀÉÎ ΣΑΣ' | lower }} {{ 'ß' | upper }}",
    r"""{{ {'a': [1, 2.5, None, true, 'é"\n\t/\\ \'x\''], 'b': {}, 'c': []} | tojson }}""",
    "{{ {'b': 1, 'a': [1, {'c': 2}], 'e': []} | tojson(indent=2) }}",
    "{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ [1, {'a': 2}] | tojson(separators=(',', ':')) }}|{{ [1, [2]] | tojson(indent='\t') }}",
    "{{ floats | tojson }}",
    "{{ u | tojson(ensure_ascii=true) }} {{ u | tojson }} {{ '\x7f\x1f' | tojson(ensure_ascii=true) }}",
    "{{ users | tojson }}",
    "{{ 5 | string }}{{ none | string }}{{ [1, 'a'] | string }}{{ true | string }}",
    "{{ [1, 'a', none] | join(', ') }}|{{ users | join(',', attribute='name') }}|{{ 'abc' | join('-') }}",
    "{{ undefined_var | default('d') }}|{{ none | default('d') }}|{{ '' | default('d', true) }}|{{ 0 | d('z', boolean=true) }}|{{ false | default('f') }}",
    "{{ [1, 2, 3] | first }}{{ [1, 2, 3] | last }}{{ 'abc' | first }}{{ 'abc' | last }}[{{ [] | first }}]{{ {'k': 1} | first }}",
    "{{ 'aaa' | replace('a', 'b', 2) }}|{{ 'abc' | replace('', '-') }}|{{ 5 | replace('5', 'five') }}",
    "{% for k, v in {'x': 1, 'a': 2} | items %}{{ k }}{{ v }}{% endfor %}{% for k in undefined_var | items %}x{% endfor %}",
    "{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ -3.9 | int }} {{ '0x1A' | int(0, 16) }} {{ true | int }} {{ ' 1_000 ' | int }} {{ none | int }}",
    "{{ '42' | int(0, 'a') }} {{ 'x' | int(5, 'a') }} {{ '101' | int(base=2) }} {{ '0b101' | int(0, 0) }}",
    "{{ '1.5' | float }} {{ 2 | float }} {{ 'abc' | float }} {{ ' 1e3 ' | float }} {{ 'inf' | float }}",
    "{{ users | map(attribute='name') | join(',') }} {{ ['a', 'b'] | map('upper') | list }} {{ users | map(attribute='age', default=0) | list }} {{ [' a ', 'b '] | map('trim') | list }}",
    "{{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, none, 0, 'a', ''] | select | list }} {{ ['null', 's'] | reject('equalto', 'null') | list }} {{ [1, 5, 10] | select('gt', 4) | list }} {{ [1, 2] | reject('in', [2]) | list }}",
    "{{ users | selectattr('admin') | map(attribute='name') | list }} {{ users | rejectattr('admin') | map(attribute='name') | join }} {{ users | selectattr('name', 'equalto', 'cy') | list | length }}",
    "{{ ['b', 'A', 'c'] | sort }} {{ ['b', 'A', 'c'] | sort(case_sensitive=true) }} {{ [3, 1, 2] | sort(reverse=true) }} {{ users | sort(attribute='name') | map(attribute='name') | join }}",
    "{{ [1, 2, 1, 3] | unique | list }} {{ ['a', 'A', 'b'] | unique | list }} {{ 'abc' | reverse }} {{ [1, 2, 3] | reverse | list }} {{ [1, 2, 3] | sum }} {{ [3, 1, 2] | min }}{{ [3, 1, 2] | max }} {{ ['b', 'A'] | max }} {{ -5 | abs }} {{ -2.5 | abs }}",
    "{{ 2.5 | round }} {{ 3.5 | round }} {{ 3.14159 | round(2) }} {{ 2.675 | round(2) }} {{ 2.7 | round(0, 'floor') }} {{ 2.1 | round(0, 'ceil') }} {{ 5 | round }} {{ 1234.5 | round(-2) }}",
    r"""{{ 'hello WORLD' | capitalize }} {{ "hello wORLD-foo(bar o'neil [x <y {z" | title }} {{ 'hELLO wORLD' | title }}""",
    "{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(2, true) }}|{{ 'a\n\nb' | indent('> ', blank=true) }}|{{ '' | indent }}",
    "{{ '%s is %d years, %.2f%%' | format('Ann', 30, 12.345) }} {{ '%(a)s-%(b)05d' | format(a='x', b=42) }}",
    "{{ '%-5s|%5s|%05.1f|%x|%X|%#x|%o|%r|%+d|% d|%e|%g|%10.3e|%c' % ('ab', 'cd', 3.14159, 255, 255, 255, 8, 'q', 5, 5, 12345.678, 0.0001, 1234.5, 65) }}",
    "{{ 'abc' | count }} {{ 'hello big_world, 42!' | wordcount }} [{{ 'ab' | center(7) }}] {{ 'hello world foo bar baz qux' | truncate(12) }} {{ 'hello world foo bar baz qux' | truncate(12, true) }}",
    r"""{{ '<a href="x">&\'' | e }} {{ '<b>' | safe }} {{ '<i>' | escape }} {{ 5 | e }}""",
    "{{ {'b': 2, 'a': 3, 'c': 1} | dictsort(by='value') }} {{ {'b': 2, 'a': 3} | dictsort(reverse=true) }}",
    "{{ [1, 2] | list }} {{ 'ab' | list }} {{ {'a': 1} | list }}",
    "{% set n = namespace(x=4) %}{{ n | attr('x') }}{{ 'Ab' | attr('lower') is callable }}{{ {'k': 1} | attr('k') is defined }}",
    # tests
    "{{ x is defined }}{{ y is defined }}{{ none is none }}{{ 'a' is string }}{{ {} is mapping }}{{ [] is iterable }}{{ 'a' is iterable }}{{ 5 is iterable }}{{ undefined_thing is iterable }}{{ {} is sequence }}{{ 'a' is sequence }}{{ undefined_thing is sequence }}{{ 5 is sequence }}",
    "{{ 5 is number }}{{ true is number }}{{ true is boolean }}{{ 1 is boolean }}{{ 1 is integer }}{{ true is integer }}{{ 1.0 is float }}{{ 4 is divisibleby 2 }}{{ 3 is odd }}{{ 3 is even }}{{ 'ab' is lower }}{{ 'AB' is upper }}{{ 'a1' is lower }}{{ '1' is lower }}",
    "{{ 1 is eq 1 }}{{ 1 is equalto 1.0 }}{{ 2 is gt 1 }}{{ 2 is ge 2 }}{{ 1 is lt 2 }}{{ 1 is le 0 }}{{ 1 is ne 2 }}{{ 'a' is in 'abc' }}{{ none is sameas none }}{{ range is callable }}{{ 'x' is callable }}{{ true is true }}{{ 1 is true }}{{ false is false }}{{ none is undefined }}{{ zz is undefined }}",
    "{{ x is not none }}{{ x is not mapping }}{{ not x is defined }}{{ 'upper' is filter }}{{ 'nope' is filter }}{{ 'odd' is test }}{{ '<b>' is escaped }}",
    # operators
    "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 2 ** 3 ** 2 }} {{ 1 - -1 }} {{ +3 }}",
    "{{ 'a' ~ 1 ~ none ~ true ~ undefined_var ~ 1.5 }} {{ 'ab' * 3 }} {{ 3 * 'x' }} {{ [1] + [2] }} {{ 'x' + 'y' }} {{ [0] * 2 }} {{ 2 * 3 ~ 4 }} {{ true + 1 }}",
    "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' in 'abc' }} {{ 'd' not in 'abc' }} {{ 1 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 1 == 1.0 }} {{ true == 1 }} {{ [1, 2] == [1, 2] }} {{ 'a' != 'b' }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ none == none }} {{ undefined_var == undefined_other }} {{ 1 in undefined_var }}",
    "{{ none or 'x' }} {{ 'a' and 'b' }} [{{ '' and 'b' }}] {{ not 0 }} {{ 0 or [] }} {{ 'a' if x else 'no' }} [{{ 'yes' if none }}] {{ 1 if false else 2 if false else 3 }}",
    "{{ 'a' + 'b' | upper }} {{ -2 | abs }} {{ not true == false }} {{ not 1 in [1] }} {{ 'x' if 1 is odd else 'y' }}",
    "{{ 'hello'[1:] }} {{ 'hello'[::-1] }} {{ [1, 2, 3, 4][1:3] }} {{ [1, 2, 3][-1] }} {{ 'héllo'[1] }} {{ [1, 2, 3][:-1] }} {{ [1, 2, 3, 4, 5][::2] }} {{ x.y.z }} {{ x['y']['z'] }} {{ users.0.name }} {{ [1, 2][5] }}|{{ 'ab'[5] }}|{{ [1, 2, 3][10:] }}{{ [1, 2, 3][-10:1] }}",
    "{{ d.get('a') }} {{ d.get('zz', 'def') }} {{ d.get('zz') }} {{ d['a'] }} {{ d.a }} [{{ d.missing }}] {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }} {{ d['get']('a') }}",
    "{{ '  a b  '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'abc'.startswith('ab') }}{{ 'abc'.endswith(('x', 'c')) }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'a,b,c'.rsplit(',', 1) }}|{{ ' a b  c '.split(none, 1) }}|{{ ' a b  c '.rsplit(none, 1) }}",
    "{{ 'Hi'.upper() }}{{ 'Hi'.lower() }}|{{ 'aXa'.replace('a', 'b') }}|{{ 'hello world'.title() }}|{{ 'abc'.find('c') }}{{ 'abc'.find('z') }}|{{ '-'.join(['a', 'b']) }}|{{ 'a\nb\r\nc'.splitlines() }}|{{ 'abc'.capitalize() }}|{{ '123'.isdigit() }}{{ 'ab'.isalpha() }}{{ ' '.isspace() }}|{{ 'a-b'.partition('-') }}|{{ 'abc'.count('b') }}|{{ 'héllo'.index('l') }}|{{ 'abc'.removeprefix('a') }}|{{ '5'.zfill(3) }}|{{ 'ab'.center(6, '*') }}|{{ '{} and {}'.format(1, 'b') }}",
    "{{ u.strip() }}|{{ u.split() }}|{{ u.upper() }}|{{ 'ÉCOLE'.lower() }}|{{ u[0] }}{{ u[1] }}|{{ u[-1] }}",
    r"""{{ [1, 'a', none, true, 1.5, {'k': 'v'}] }} {{ ('a',) }} {{ () }} {{ {'a': "it's"} }} {{ ['"q"', 'it\'s', 'both\'"', '\n\t\\', u] }}""",
    "{{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1 / 3 }} {{ 10 ** 15 * 1.0 }} {{ 1e16 }} {{ 0.00001 }} {{ 0.0001 }} {{ -0.0 }} {{ 1e-300 * 1e-300 }} {{ 2.0 ** 70 }} {{ 123456789.123456789 }} {{ 1_000 }} {{ 0x10 }} {{ 1.5e3 }}",
    "{{ floats }}",
    "{{ 'a\\tb\\x41\\u00e9\\n' }}|{{ \"double 'q'\" }}|{{ 'adjacent' 'strings' }}|{{ 'back\\\\slash' }}|{{ 'un\\known' }}|{{ '\\101' }}",
    "{{ dict(a=1, b=2) }} {{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }} {{ namespace(a=1).a }}",
    "[{{ undefined_var }}]{% if undefined_var %}yes{% else %}no{% endif %}{% for q in undefined_var %}q{% endfor %}{{ undefined_var | length }}{{ undefined_var is defined }}",
    "{% if users %}{{ users | length }}{% endif %}{% if empty %}E{% else %}not{% endif %}{% if nothing is none %}N{% endif %}",
    "{% set ns = namespace(items=[]) %}{% for u in users %}{% set ns.items = ns.items + [u.name] %}{% endfor %}{{ ns.items }}",
    "{{ x }} {{ users[0] }}",
    # errors
    "{% for x in y %}",
    "{{ 1 + }}",
    "{% endif %}",
    "{{ x | nosuchfilter }}",
    "{{ x is nosuchtest }}",
    "{% if true %}{% endfor %}",
    "{{ missing.attr }}",
    "{{ missing['k'] }}",
    "{{ 1 + 'a' }}",
    "{{ 'a' + 1 }}",
    "{{ raise_exception('boom: ' ~ 1) }}",
    "line 1\nline 2 {{ raise_exception('on line two') }}",
    "{% set ns = 5 %}{% set ns.x = 1 %}",
    "{{ [].append(1) }}",
    "{{ range(200000) | length }}",
    "{{ 1 / 0 }}",
    "{{ undefined_var + 1 }}",
    "{{ undefined_var() }}",
    "{{ 'x' < 1 }}",
    "{% set a, b = [1, 2, 3] %}",
    "{{ 'abc",
    "{# never closed",
    "{{ (1, 2 }}",
    "{{ x | items | list }}{% for k in 5 | items %}{% endfor %}",
    "{% macro m(a) %}{% endmacro %}{{ m(1, 2) }}",
    "{% macro m(a) %}{% endmacro %}{{ m(b=1) }}",
]


def render_snippets():
    out = []
    for src in SNIPPETS:
        case = {"template": src}
        try:
            case["rendered"] = compile_template(src).render(**SNIPPET_VARS)
        except Exception as e:  # syntax errors, undefined errors, type errors, raise_exception
            case["error"] = f"{type(e).__name__}: {e}"
        out.append(case)
    return out


def main():
    sources = {}
    for t in TEMPLATES:
        with open(os.path.join(TEMPLATE_DIR, t), encoding="utf-8", newline="") as f:
            sources[t] = f.read()
    compiled = {t: compile_template(s) for t, s in sources.items()}

    cases = []
    for t, c, extra in plan():
        for agp in (False, True):
            ctx = build_context(CONVERSATIONS[c], agp, extra)
            case = {"template": t, "conversation": c, "add_generation_prompt": agp, "extra": extra}
            try:
                case["rendered"] = compiled[t].render(**ctx)
            except jinja2.exceptions.TemplateError as e:
                case["error"] = str(e)
            cases.append(case)

    doc = {
        "generator": "tests/data/make_template_cases.py, jinja2 " + jinja2.__version__,
        "context": "messages, tools (null when absent), documents (null), add_generation_prompt, "
        "special_tokens, then extra, in that order",
        "special_tokens": SPECIAL_TOKENS,
        "conversations": CONVERSATIONS,
        "cases": cases,
        "snippet_vars": SNIPPET_VARS,
        "snippets": render_snippets(),
    }
    out_path = os.path.join(TEMPLATE_DIR, "cases.json")
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n_err = sum(1 for x in cases if "error" in x)
    n_snip = len(doc["snippets"])
    n_snip_err = sum(1 for x in doc["snippets"] if "error" in x)
    print(f"wrote {out_path}: {len(cases)} cases ({n_err} raise an error), "
          f"{n_snip} snippets ({n_snip_err} raise an error)")


if __name__ == "__main__":
    main()
