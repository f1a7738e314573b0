#include "gemrt/text/stream_decoder.h"

#include "gemrt/text/tokenizer.h"
#include "gemrt/text/tokenizer_impl.h"

namespace gemrt {

StreamDecoder::StreamDecoder(const Tokenizer& tokenizer, bool skip_special)
    : impl_(tokenizer.impl_), skip_special_(skip_special), strip_left_(impl_->final_strip_start) {}

namespace {

// Moves the complete characters at the front of `pending` to the result. Ill-formed bytes become
// U+FFFD each; a well-formed but unfinished tail stays in `pending` unless `final`.
std::string take_complete(std::string& pending, bool final) {
  std::string out;
  const auto* p = reinterpret_cast<const unsigned char*>(pending.data());
  size_t i = 0;
  while (i < pending.size()) {
    const int st = detail::utf8_char_status(p + i, pending.size() - i);
    if (st > 0) {
      out.append(pending, i, static_cast<size_t>(st));
      i += static_cast<size_t>(st);
    } else if (st == 0 || final) {
      out += detail::kReplacementChar;
      ++i;
    } else {
      break;  // unfinished character: wait for its next byte
    }
  }
  pending.erase(0, i);
  return out;
}

}  // namespace

std::string StreamDecoder::push(int32_t id) {
  impl_->check_id(id);
  const auto u = static_cast<size_t>(id);
  if (skip_special_ && impl_->special[u]) return {};
  if (impl_->byte_of[u] >= 0) {
    pending_bytes_ += static_cast<char>(impl_->byte_of[u]);
    return emit(take_complete(pending_bytes_, false), false);
  }
  std::string text = take_complete(pending_bytes_, true);
  text += impl_->decoded[u];
  return emit(std::move(text), false);
}

std::string StreamDecoder::flush() {
  std::string text = emit(take_complete(pending_bytes_, true), true);
  reset();
  return text;
}

void StreamDecoder::reset() {
  pending_bytes_.clear();
  held_tail_.clear();
  strip_left_ = impl_->final_strip_start;
}

// Applies the decoder's Strip of the fused text (HF Strip after Fuse) to the stream.
std::string StreamDecoder::emit(std::string text, bool final) {
  const std::string& c = impl_->final_strip_content;
  if (c.empty()) return text;
  size_t begin = 0;
  while (strip_left_ > 0 && text.compare(begin, c.size(), c) == 0) {
    begin += c.size();
    --strip_left_;
  }
  if (begin < text.size()) strip_left_ = 0;
  text.erase(0, begin);
  if (impl_->final_strip_stop > 0) {
    if (text.empty() && !final) return text;
    text.insert(0, held_tail_);
    held_tail_.clear();
    if (final) {
      for (int k = 0; k < impl_->final_strip_stop && text.size() >= c.size() &&
                      text.compare(text.size() - c.size(), c.size(), c) == 0;
           ++k)
        text.resize(text.size() - c.size());
    } else {
      for (int k = 0; k < impl_->final_strip_stop && text.size() >= c.size() &&
                      text.compare(text.size() - c.size(), c.size(), c) == 0;
           ++k) {
        held_tail_.insert(0, c);
        text.resize(text.size() - c.size());
      }
    }
  }
  return text;
}

}  // namespace gemrt
