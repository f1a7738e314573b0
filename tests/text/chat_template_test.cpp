// Chat templates and the Jinja interpreter behind them.
//
// Every expected rendering in tests/data/templates/cases.json comes from Python's jinja2 set up
// as transformers' apply_chat_template sets it up (tests/data/make_template_cases.py); the
// Gemma 3 fixture's chats come from transformers itself. The hand-written expectations in the
// Jinja* unit tests below agree with jinja2 (each construct is also among the jinja2-rendered
// snippets of cases.json).
#include "gemrt/text/chat_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "gemrt/core/error.h"
#include "test_util.h"

namespace gemrt {
namespace {

using nlohmann::ordered_json;
using ::testing::HasSubstr;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

const ordered_json& cases_doc() {
  static const ordered_json doc = ordered_json::parse(slurp(test::test_data() + "/templates/cases.json"));
  return doc;
}

// The context make_template_cases.py hands to template.render().
ordered_json case_context(const ordered_json& doc, const ordered_json& c) {
  const ordered_json& conv = doc["conversations"][c["conversation"].get<std::string>()];
  ordered_json ctx = ordered_json::object();
  ctx["messages"] = conv["messages"];
  ctx["tools"] = conv.contains("tools") ? conv["tools"] : ordered_json(nullptr);
  ctx["documents"] = nullptr;
  ctx["add_generation_prompt"] = c["add_generation_prompt"];
  for (const auto& [k, v] : doc["special_tokens"].items()) ctx[k] = v;
  for (const auto& [k, v] : c["extra"].items()) ctx[k] = v;
  return ctx;
}

// Renders every generated case whose template file starts with `prefix`; returns how many ran.
int check_generated_cases(const std::string& prefix) {
  const ordered_json& doc = cases_doc();
  int n = 0;
  for (const ordered_json& c : doc["cases"]) {
    const std::string file = c["template"].get<std::string>();
    if (file.rfind(prefix, 0) != 0) continue;
    ++n;
    SCOPED_TRACE(file + " / " + c["conversation"].get<std::string>() +
                 " / add_generation_prompt=" + c["add_generation_prompt"].dump() + " / extra=" + c["extra"].dump());
    const ChatTemplate tmpl(slurp(test::test_data() + "/templates/" + file));
    const ordered_json ctx = case_context(doc, c);
    if (c.contains("error")) {
      try {
        tmpl.render(ctx);
        ADD_FAILURE() << "expected the template to raise: " << c["error"].get<std::string>();
      } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr(c["error"].get<std::string>()));
      }
    } else {
      EXPECT_EQ(tmpl.render(ctx), c["rendered"].get<std::string>());
    }
  }
  return n;
}

std::string R(const std::string& src, const ordered_json& ctx = ordered_json::object()) {
  return render_chat_template(src, ctx);
}

// The gemrt::Error message a template raises ("" when it renders).
std::string error_of(const std::string& src, const ordered_json& ctx = ordered_json::object()) {
  try {
    R(src, ctx);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ---- real templates -----------------------------------------------------------------------------

TEST(ChatTemplate, Gemma3FixtureChatsMatchTransformers) {
  const std::string dir = test::shared_fixtures() + "/tokenizer/gemma3";
  const ordered_json cases = ordered_json::parse(slurp(dir + "/cases.json"));
  const ChatTemplateSource src = load_chat_template(dir);
  EXPECT_EQ(src.bos_token, "<bos>");
  ASSERT_FALSE(cases["chats"].empty());
  const ChatTemplate tmpl(src.source);
  for (const ordered_json& chat : cases["chats"]) {
    SCOPED_TRACE(chat["messages"].dump());
    ordered_json ctx = ordered_json::object();
    ctx["messages"] = chat["messages"];
    ctx["tools"] = nullptr;
    ctx["documents"] = nullptr;
    ctx["add_generation_prompt"] = chat["add_generation_prompt"];
    ctx["bos_token"] = src.bos_token;
    ctx["eos_token"] = src.eos_token;
    EXPECT_EQ(tmpl.render(ctx), chat["rendered"].get<std::string>());

    std::vector<ChatMessage> msgs;
    for (const ordered_json& m : chat["messages"])
      msgs.push_back({m["role"].get<std::string>(), m["content"].get<std::string>()});
    EXPECT_EQ(render_chat(src.source, msgs, chat["add_generation_prompt"].get<bool>(), src.bos_token, src.eos_token),
              chat["rendered"].get<std::string>());
  }
}

TEST(ChatTemplate, Gemma1CasesMatchJinja2) { EXPECT_GT(check_generated_cases("gemma1-"), 0); }
TEST(ChatTemplate, Gemma2CasesMatchJinja2) { EXPECT_GT(check_generated_cases("gemma2-"), 0); }
TEST(ChatTemplate, Gemma3CasesMatchJinja2) { EXPECT_GT(check_generated_cases("gemma3-"), 0); }
TEST(ChatTemplate, Gemma4CasesMatchJinja2) { EXPECT_GT(check_generated_cases("gemma4-"), 0); }

TEST(ChatTemplate, EveryGeneratedCaseIsChecked) {
  const ordered_json& doc = cases_doc();
  int covered = 0;
  for (const char* p : {"gemma1-", "gemma2-", "gemma3-", "gemma4-"})
    for (const ordered_json& c : doc["cases"])
      if (c["template"].get<std::string>().rfind(p, 0) == 0) ++covered;
  EXPECT_EQ(covered, static_cast<int>(doc["cases"].size()));
}

TEST(ChatTemplate, Gemma2RejectsSystemRoleWithTheTemplatesMessage) {
  const std::string src = slurp(test::test_data() + "/templates/gemma2-it.jinja");
  try {
    render_chat(src, {{"system", "Be brief."}, {"user", "Hi"}}, true, "<bos>", "<eos>");
    FAIL() << "expected raise_exception";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("System role not supported"));
  }
  EXPECT_EQ(render_chat(src, {{"user", " Hi "}, {"assistant", "Hello"}}, true, "<bos>", "<eos>"),
            "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello<end_of_turn>\n"
            "<start_of_turn>model\n");
}

TEST(ChatTemplate, ContextKeyOrderFollowsTheJsonType) {
  const std::string src = "{% for k in d %}{{ k }}{% endfor %}|{{ d | tojson }}";
  ordered_json ordered = {{"d", {{"b", 1}, {"a", 2}}}};
  nlohmann::json sorted = {{"d", {{"b", 1}, {"a", 2}}}};
  EXPECT_EQ(render_chat_template(src, ordered), "ba|{\"b\": 1, \"a\": 2}");
  EXPECT_EQ(render_chat_template(src, sorted), "ab|{\"a\": 2, \"b\": 1}");
}

TEST(ChatTemplate, RejectsANonObjectContext) {
  EXPECT_THROW(render_chat_template("x", nlohmann::json::array()), Error);
}

// ---- loading ------------------------------------------------------------------------------------

TEST(ChatTemplateLoad, StringInTokenizerConfig) {
  test::TempDir dir;
  test::write_text(dir.file("tokenizer_config.json"),
                   R"({"chat_template": "{{ bos_token }}hi", "bos_token": {"content": "<s>", "lstrip": false},
                       "eos_token": "</s>"})");
  const ChatTemplateSource src = load_chat_template(dir.path().string());
  EXPECT_EQ(src.source, "{{ bos_token }}hi");
  EXPECT_EQ(src.bos_token, "<s>");
  EXPECT_EQ(src.eos_token, "</s>");
  EXPECT_EQ(src.path, dir.file("tokenizer_config.json"));
}

TEST(ChatTemplateLoad, NamedListPicksDefault) {
  test::TempDir dir;
  test::write_text(dir.file("tokenizer_config.json"),
                   R"({"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]})");
  EXPECT_EQ(load_chat_template(dir.path().string()).source, "D");
  EXPECT_EQ(load_chat_template(dir.path().string(), "tool_use").source, "T");
  try {
    load_chat_template(dir.path().string(), "rag");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr("no chat template named 'rag'"));
    EXPECT_THAT(e.what(), HasSubstr("tool_use, default"));
  }
}

TEST(ChatTemplateLoad, JinjaFileWinsOverTokenizerConfig) {
  test::TempDir dir;
  test::write_text(dir.file("tokenizer_config.json"), R"({"chat_template": "old", "bos_token": "<bos>"})");
  test::write_text(dir.file("chat_template.jinja"), "{{ bos_token }}new\n");
  const ChatTemplateSource src = load_chat_template(dir.path().string());
  EXPECT_EQ(src.source, "{{ bos_token }}new\n");
  EXPECT_EQ(src.bos_token, "<bos>");
  // jinja2 drops the file's final newline (keep_trailing_newline is off).
  EXPECT_EQ(render_chat(src.source, {}, false, src.bos_token, src.eos_token), "<bos>new");
}

TEST(ChatTemplateLoad, ProcessorChatTemplateJson) {
  test::TempDir dir;
  test::write_text(dir.file("chat_template.json"), R"({"chat_template": "P"})");
  EXPECT_EQ(load_chat_template(dir.path().string()).source, "P");
}

TEST(ChatTemplateLoad, MissingTemplateNamesTheFolder) {
  test::TempDir dir;
  test::write_text(dir.file("tokenizer_config.json"), R"({"bos_token": "<bos>"})");
  try {
    load_chat_template(dir.path().string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir.path().string()));
    EXPECT_THAT(e.what(), HasSubstr("no chat template"));
  }
  EXPECT_THROW(load_chat_template(dir.file("nope")), Error);
}

// ---- Jinja features, against jinja2 ----------------------------------------------------------

TEST(JinjaSnippets, AllMatchJinja2) {
  const ordered_json& doc = cases_doc();
  ASSERT_GT(doc["snippets"].size(), 100u);
  for (const ordered_json& s : doc["snippets"]) {
    const std::string src = s["template"].get<std::string>();
    SCOPED_TRACE(src);
    if (s.contains("error")) {
      EXPECT_NE(error_of(src, doc["snippet_vars"]), "") << "jinja2 raised " << s["error"].get<std::string>();
    } else {
      std::string got;
      try {
        got = R(src, doc["snippet_vars"]);
      } catch (const Error& e) {
        ADD_FAILURE() << e.what();
        continue;
      }
      EXPECT_EQ(got, s["rendered"].get<std::string>());
    }
  }
}

TEST(JinjaWhitespace, TrimBlocksAndLstripBlocks) {
  EXPECT_EQ(R("a\n  {% if true %}\n    b\n  {% endif %}\nc"), "a\n    b\nc");
  EXPECT_EQ(R("{% for i in [1, 2] %}\n{{ i }}\n{% endfor %}"), "1\n2\n");
  EXPECT_EQ(R("  {# c #}\nx"), "x");
  EXPECT_EQ(R("  {{ 'x' }}\n  {% if true %}y{% endif %}"), "  x\ny");  // {{ }} is never lstripped
  EXPECT_EQ(R("{% if true %}  \n{% endif %}|"), "  \n|");
  EXPECT_EQ(R("a {%+ if true %}b{% endif %}"), "a b");
  EXPECT_EQ(R("line1\r\nline2\rline3\r\n"), "line1\nline2\nline3");  // newlines normalised, last one dropped
}

TEST(JinjaWhitespace, DashControl) {
  EXPECT_EQ(R("  {{- 'x' -}}  \n y"), "xy");
  EXPECT_EQ(R("{%- if true -%}  x  {%- endif -%}"), "x");
  EXPECT_EQ(R("a{#- c -#}   b"), "ab");
  EXPECT_EQ(R("{%- for i in range(2) %}\n  {{ i }}\n{%- endfor %}"), "  0  1");
  EXPECT_EQ(R("x  \u3000{%- if true %}y{% endif %}"), "xy");  // `-` strips Unicode whitespace too
  EXPECT_EQ(R("x {%- raw -%}  {{ y }}  {%- endraw -%} z"), "x{{ y }}z");
}

TEST(JinjaLoop, LoopVariables) {
  EXPECT_EQ(R("{% for x in 'abc' %}{{ loop.index0 }}{{ loop.index }}{{ loop.first }}{{ loop.last }}"
              "{{ loop.length }}{{ loop.revindex }}|{% endfor %}"),
            "01TrueFalse33|12FalseFalse32|23FalseTrue31|");
  EXPECT_EQ(R("{% for i in range(3) %}{{ loop.previtem }}-{{ loop.nextitem }};{% endfor %}"), "-1;0-2;1-;");
  EXPECT_EQ(R("{% for i in range(5) %}{{ loop.cycle('a', 'b') }}{% endfor %}"), "ababa");
}

TEST(JinjaLoop, FilterElseBreakContinue) {
  EXPECT_EQ(R("{% for x in [1, 2, 3, 4] if x is even %}{{ x }}:{{ loop.index }}/{{ loop.length }} {% endfor %}"),
            "2:1/2 4:2/2 ");
  EXPECT_EQ(R("{% for x in [] %}a{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(R("{% for i in range(10) %}{% if i == 5 %}{% break %}{% endif %}"
              "{% if i is odd %}{% continue %}{% endif %}{{ i }}{% endfor %}"),
            "024");
  EXPECT_EQ(R("{% for k, v in {'b': 1, 'a': 2}.items() %}{{ k }}={{ v }};{% endfor %}"), "b=1;a=2;");
}

TEST(JinjaScope, SetNamespaceAndBlockSet) {
  EXPECT_EQ(R("{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}"), "21");
  EXPECT_EQ(R("{% if true %}{% set y = 5 %}{% endif %}{{ y }}"), "5");
  EXPECT_EQ(R("{% set ns = namespace(x=1) %}{% for i in [1, 2] %}{% set ns.x = ns.x + i %}{% endfor %}{{ ns.x }}"),
            "4");
  EXPECT_EQ(R("{% set x %}  hello {{ 1 + 1 }} {% endset %}[{{ x }}]"), "[  hello 2 ]");
  EXPECT_EQ(R("{% set x | upper %}abc{% endset %}{{ x }}"), "ABC");
  EXPECT_EQ(R("{% set a, b = 1, 2 %}{{ a }}{{ b }}"), "12");
}

TEST(JinjaMacro, DefaultsKeywordsRecursion) {
  EXPECT_EQ(R("{% macro greet(name, greeting='Hello') %}{{ greeting }}, {{ name }}!{% endmacro %}"
              "{{ greet('Ann') }} {{ greet('Bob', greeting='Hi') }} {{ greet() }}"),
            "Hello, Ann! Hi, Bob! Hello, !");
  EXPECT_EQ(R("{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}"), "321");
  EXPECT_EQ(R("{% macro m() %}  x  {% endmacro %}[{{ m() | trim }}]"), "[x]");
}

TEST(JinjaFilters, Common) {
  const ordered_json ctx = {{"users", {{{"name", "ann"}, {"age", 31}}, {{"name", "Bob"}}}}, {"d", {{"b", 2}, {"a", 1}}}};
  EXPECT_EQ(R("{{ '  x  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ '\u00a0x\u3000' | trim }}"), "x|a|x");
  EXPECT_EQ(R("{{ [1, 2, 3] | length }}{{ 'h\u00e9llo' | length }}{{ {'a': 1} | count }}"), "351");
  EXPECT_EQ(R("{{ 'Gr\u00fc\u00dfe' | upper }} {{ 'ABC' | lower }}"), "GR\u00dcSSE abc");
  EXPECT_EQ(R("{{ {'a': [1, 2.5, none, true, '\u00e9\"']} | tojson }}"), "{\"a\": [1, 2.5, null, true, \"\u00e9\\\"\"]}");
  EXPECT_EQ(R("{{ {'b': 1, 'a': [1]} | tojson(indent=2) }}"), "{\n  \"b\": 1,\n  \"a\": [\n    1\n  ]\n}");
  EXPECT_EQ(R("{{ 5 | string }}{{ none | string }}{{ [1, 'a'] | string }}"), "5None[1, 'a']");
  EXPECT_EQ(R("{{ [1, 'a', none] | join(', ') }}|{{ users | join(',', attribute='name') }}", ctx), "1, a, None|ann,Bob");
  EXPECT_EQ(R("{{ nope | default('d') }}|{{ none | default('d') }}|{{ '' | default('d', true) }}"), "d|None|d");
  EXPECT_EQ(R("{{ [1, 2, 3] | first }}{{ [1, 2, 3] | last }}[{{ [] | first }}]"), "13[]");
  EXPECT_EQ(R("{{ 'aaa' | replace('a', 'b', 2) }}"), "bba");
  EXPECT_EQ(R("{% for k, v in d | items %}{{ k }}{{ v }}{% endfor %}|{% for k, v in d | dictsort %}{{ k }}{{ v }}{% endfor %}", ctx),
            "b2a1|a1b2");
  EXPECT_EQ(R("{{ '42' | int }} {{ '4.7' | int }} {{ 'x' | int }} {{ 3.9 | int }}"), "42 4 0 3");
  EXPECT_EQ(R("{{ users | map(attribute='name') | join(',') }} {{ users | map(attribute='age', default=0) | list }}", ctx),
            "ann,Bob [31, 0]");
  EXPECT_EQ(R("{{ ['null', 's'] | reject('equalto', 'null') | list | first | upper }}"), "S");
}

TEST(JinjaTests, IsTests) {
  const ordered_json ctx = {{"x", {{"k", 1}}}, {"n", nullptr}};
  EXPECT_EQ(R("{{ x is defined }}{{ y is defined }}{{ n is none }}{{ 'a' is string }}{{ x is mapping }}", ctx),
            "TrueFalseTrueTrueTrue");
  EXPECT_EQ(R("{{ [] is iterable }}{{ 5 is iterable }}{{ undefined_thing is iterable }}{{ x is sequence }}", ctx),
            "TrueFalseTrueTrue");
  EXPECT_EQ(R("{{ true is boolean }}{{ 1 is boolean }}{{ 4 is divisibleby 2 }}{{ n is not none }}", ctx),
            "TrueFalseTrueFalse");
}

TEST(JinjaExpr, OperatorsAndPrecedence) {
  EXPECT_EQ(R("{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 3 ** 2 }}"), "3 -4 2 3.5 2.0 64");
  EXPECT_EQ(R("{{ 'a' ~ 1 ~ none ~ nope }} {{ 'ab' * 2 }} {{ [1] + [2] }} {{ 2 * 3 ~ 4 }}"), "a1None abab [1, 2] 64");
  EXPECT_EQ(R("{{ 'a' + 'b' | upper }} {{ not true == false }} {{ 'd' not in 'abc' }} {{ 1 < 2 < 3 }}"),
            "aB True True True");
  EXPECT_EQ(R("{{ none or 'x' }} [{{ '' and 'b' }}] {{ 'y' if 0 else 'n' }} [{{ 'y' if none }}]"), "x [] n []");
}

TEST(JinjaExpr, SubscriptsSlicesAndMethods) {
  const ordered_json ctx = {{"d", {{"a", 1}, {"items", "not a method"}}}};
  EXPECT_EQ(R("{{ 'hello'[1:] }} {{ 'hello'[::-1] }} {{ [1, 2, 3][-1] }} {{ [1, 2, 3][:-1] }} {{ 'h\u00e9llo'[1] }}"),
            "ello olleh 3 [1, 2] \u00e9");
  EXPECT_EQ(R("{{ d.a }} {{ d['a'] }} {{ d.get('z', 'dflt') }} [{{ d.missing }}] {{ d['items'] }}", ctx),
            "1 1 dflt [] not a method");
  EXPECT_EQ(R("{{ ' a b '.strip() }}|{{ 'a,b'.split(',') }}|{{ 'abc'.startswith('ab') }}|{{ 'x'.upper() }}|"
              "{{ 'aXa'.replace('a', 'b') }}|{{ ' a  b '.split() }}|{{ 'xxhixx'.lstrip('x') }}"),
            "a b|['a', 'b']|True|X|bXb|['a', 'b']|hixx");
}

TEST(JinjaValues, PythonPrintingOfNumbersAndContainers) {
  EXPECT_EQ(R("{{ 1.0 }} {{ 1e20 }} {{ 0.1 + 0.2 }} {{ 1e16 }} {{ 0.00001 }} {{ 0.0001 }} {{ -0.0 }}"),
            "1.0 1e+20 0.30000000000000004 1e+16 1e-05 0.0001 -0.0");
  EXPECT_EQ(R("{{ [1, 'a', none, true, {'k': \"it's\"}] }} {{ ('a',) }}"),
            "[1, 'a', None, True, {'k': \"it's\"}] ('a',)");
}

TEST(JinjaUndefined, BehavesLikeJinja2DefaultUndefined) {
  EXPECT_EQ(R("[{{ nope }}]{% if nope %}y{% else %}n{% endif %}{% for q in nope %}q{% endfor %}{{ nope | length }}"),
            "[]n0");
  EXPECT_EQ(R("{{ nope is defined }}{{ nope == nope2 }}{{ 'x' in nope }}"), "FalseTrueFalse");
  EXPECT_THAT(error_of("{{ nope.attr }}"), HasSubstr("'nope' is undefined"));
  EXPECT_THAT(error_of("{{ nope + 1 }}"), HasSubstr("'nope' is undefined"));
  EXPECT_THAT(error_of("{{ {'a': 1}['b'].c }}"), HasSubstr("'dict object' has no attribute 'b'"));
}

TEST(JinjaErrors, SyntaxErrorsNameTheLine) {
  EXPECT_THAT(error_of("line one\n{% for x in y %}\n{{ x }}"), HasSubstr("line 3"));
  EXPECT_THAT(error_of("a\nb\n{{ 1 + }}"), HasSubstr("line 3"));
  EXPECT_THAT(error_of("a\n{% endif %}"), HasSubstr("line 2"));
  EXPECT_THAT(error_of("{{ x | nosuchfilter }}"), HasSubstr("No filter named 'nosuchfilter'"));
  EXPECT_THAT(error_of("x\n\n{# open"), HasSubstr("line 3"));
  EXPECT_THAT(error_of("{% call foo() %}{% endcall %}"), HasSubstr("not supported"));
}

TEST(JinjaErrors, RuntimeErrorsNameTheLine) {
  EXPECT_THAT(error_of("a\nb\n{{ 1 + 'a' }}"), HasSubstr("line 3"));
  EXPECT_THAT(error_of("a\nb\n{{ 1 + 'a' }}"), HasSubstr("unsupported operand type(s) for +: 'int' and 'str'"));
  EXPECT_THAT(error_of("{% macro m() %}\n\n{{ nope.x }}{% endmacro %}\n{{ m() }}"), HasSubstr("line 3"));
  EXPECT_THAT(error_of("{% set ns = 5 %}{% set ns.x = 1 %}"), HasSubstr("non-namespace"));
  EXPECT_THAT(error_of("{{ [].append(1) }}"), HasSubstr("unsafe"));
  EXPECT_THAT(error_of("{{ range(200000) | length }}"), HasSubstr("Range too big"));
}

TEST(JinjaErrors, RaiseExceptionCarriesTheMessage) {
  const std::string err = error_of("line 1\nline 2 {{ raise_exception('Conversation roles must alternate ' ~ 42) }}");
  EXPECT_THAT(err, HasSubstr("Conversation roles must alternate 42"));
  EXPECT_THAT(err, HasSubstr("line 2"));
}

TEST(JinjaErrors, HostileTemplatesFailCleanly) {
  EXPECT_THAT(error_of("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}"),
              HasSubstr("nested too deeply"));
  EXPECT_THAT(error_of("{{ " + std::string(5000, '-') + "1 }}"), HasSubstr("nested too deeply"));
  EXPECT_THAT(error_of("{{ " + std::string(5000, '[') + std::string(5000, ']') + " }}"), HasSubstr("nested too deeply"));
  std::string ifs;
  for (int i = 0; i < 1000; ++i) ifs += "{% if true %}";
  EXPECT_THAT(error_of(ifs), HasSubstr("nested too deeply"));
  EXPECT_THAT(error_of("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), HasSubstr("recursion"));
  EXPECT_THAT(error_of("{{ 2.5 | round('x') }}"), HasSubstr("precision"));
  EXPECT_EQ(error_of("{{ (-9223372036854775807 - 1) // -1 }}{{ (-9223372036854775807 - 1) | abs }}"), "");
}

TEST(JinjaGlobals, RangeDictNamespaceStrftime) {
  EXPECT_EQ(R("{{ range(3) | list }} {{ range(5, 0, -2) | list }} {{ dict(a=1) }} {{ namespace(a=1).a }}"),
            "[0, 1, 2] [5, 3, 1] {'a': 1} 1");
  EXPECT_EQ(R("{{ strftime_now('%Y') | length }}"), "4");
  // Context variables shadow globals, as in jinja2.
  EXPECT_EQ(R("{{ range }}", {{"range", "mine"}}), "mine");
}

}  // namespace
}  // namespace gemrt
