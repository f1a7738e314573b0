#include "gemrt/backend/run_checks.h"

#include <algorithm>

#include "gemrt/core/error.h"

namespace gemrt {

std::span<const int32_t> InputData::i32() const {
  if (dtype_ != DType::I32) fail("graph input: expected int32 values, got ", dtype_name(dtype_));
  return {static_cast<const int32_t*>(data_), count_};
}

InputData graph_input(const RunInputs& inputs, const Node& n) {
  auto it = inputs.find(n.name);
  if (it == inputs.end()) fail("graph input '", n.name, "' was not supplied");
  if (static_cast<int64_t>(it->second.size()) != n.shape.numel())
    fail("graph input '", n.name, "' has ", it->second.size(), " values, expected ", n.shape.numel());
  if (it->second.dtype() != n.dtype)
    fail("graph input '", n.name, "' holds ", dtype_name(it->second.dtype()), " values, expected ", dtype_name(n.dtype));
  return it->second;
}

void check_token_ids(const TensorView& table, std::span<const int32_t> ids) {
  const int64_t vocab = table.shape[0];
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      fail("token id ", ids[i], " at position ", i, " is outside the vocabulary [0, ", vocab, ") of ", table.name);
}

void check_attention_run(const AttentionAttrs& a, const KvSlotLayout& slot, int64_t cached,
                         std::span<const int32_t> positions) {
  if (slot.kv_heads != a.n_kv_heads || slot.head_dim != a.head_dim)
    fail("attention: kv slot ", a.kv_slot, " holds ", slot.kv_heads, "x", slot.head_dim, ", op wants ", a.n_kv_heads,
         "x", a.head_dim);
  if (positions.empty()) return;
  const auto t = static_cast<int64_t>(positions.size());
  const int64_t cap = slot.capacity;
  const int64_t p0 = positions[0];
  if (p0 != cached)
    fail("attention: this run starts at position ", p0, " but the KV cache of slot ", a.kv_slot, " continues at ", cached);
  for (int64_t i = 1; i < t; ++i)
    if (positions[static_cast<size_t>(i)] != p0 + i)
      fail("attention: positions must be consecutive (position ", i, " is ", positions[static_cast<size_t>(i)], ")");
  // The oldest key any query of this run needs must still be in the ring (or in this run).
  const int64_t oldest_needed = a.window > 0 ? std::max<int64_t>(0, p0 - a.window + 1) : 0;
  if (oldest_needed < cached && oldest_needed < cached - cap)
    fail("attention: the KV cache budget of ", cap, " positions is exceeded (sequence reaches position ", p0 + t - 1,
         "); allocate a larger budget");
  if (a.window == 0 && p0 + t > cap)
    fail("attention: the KV cache budget of ", cap, " positions is exceeded (sequence would reach ", p0 + t, " tokens)");
}

void check_row_index(std::span<const int32_t> index, int64_t m, const std::string& op) {
  for (size_t r = 0; r < index.size(); ++r)
    if (index[r] < -1 || index[r] >= m)
      fail(op, ": row ", r, " takes replacement row ", index[r], ", outside [-1, ", m, ")");
}

void check_attention_blocks(std::span<const int32_t> positions, std::span<const int32_t> blocks) {
  if (blocks.size() != 2 * positions.size())
    fail("attention: ", blocks.size() / 2, " bidirectional blocks for ", positions.size(), " query rows");
  if (positions.empty()) return;
  const int64_t first = positions.front(), end = positions.back() + int64_t{1};
  for (size_t r = 0; r < positions.size(); ++r) {
    const int64_t b = blocks[2 * r], e = blocks[2 * r + 1], p = positions[r];
    if (b == e) continue;
    if (!(b <= p && p < e) || b < first || e > end)
      fail("attention: the bidirectional block [", b, ", ", e, ") of the query at position ", p,
           " must contain it and lie inside this run's positions [", first, ", ", end, ")");
  }
}

}  // namespace gemrt
