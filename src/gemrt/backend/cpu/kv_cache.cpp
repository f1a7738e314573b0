#include "gemrt/backend/cpu/kv_cache.h"

#include "gemrt/core/error.h"

namespace gemrt::cpu {

CpuKvCache::CpuKvCache(const KvLayout& layout) : layout_(layout) {
  if (layout_.dtype != DType::F32 && layout_.dtype != DType::F16 && layout_.dtype != DType::BF16)
    fail("kv cache: dtype ", dtype_name(layout_.dtype), " is not supported (F32, F16 or BF16)");
  const int64_t elem = dtype_info(layout_.dtype).block_bytes;
  for (const KvSlotLayout& s : layout_.slots) {
    if (s.capacity <= 0 || s.kv_heads <= 0 || s.head_dim <= 0)
      fail("kv cache: invalid slot (capacity ", s.capacity, ", kv_heads ", s.kv_heads, ", head_dim ", s.head_dim, ")");
    const auto n = static_cast<size_t>(s.capacity * s.row_width() * elem);
    k_.emplace_back(n, std::byte{0});
    v_.emplace_back(n, std::byte{0});
  }
  next_.assign(layout_.slots.size(), 0);
}

void CpuKvCache::reset() { std::fill(next_.begin(), next_.end(), 0); }

int64_t CpuKvCache::bytes() const {
  int64_t b = 0;
  for (size_t i = 0; i < k_.size(); ++i) b += static_cast<int64_t>(k_[i].size() + v_[i].size());
  return b;
}

const KvSlotLayout& CpuKvCache::slot(int s) const {
  if (s < 0 || s >= static_cast<int>(layout_.slots.size()))
    fail("kv cache: slot ", s, " does not exist (", layout_.slots.size(), " slots)");
  return layout_.slots[static_cast<size_t>(s)];
}

}  // namespace gemrt::cpu
