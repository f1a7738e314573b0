// Built-in Gemma chat templates, for model files that carry none.
#pragma once

#include <string_view>

namespace gemrt {

// The template for a family ("gemma", "gemma2", "gemma3"), or nullptr when there is none.
const char* builtin_chat_template(std::string_view family);

}  // namespace gemrt
