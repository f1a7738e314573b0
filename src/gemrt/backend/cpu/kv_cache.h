// Host KV storage for the CPU backend: per slot, two rings [capacity, kv_heads * head_dim] of
// keys and values in the layout's dtype (F32, F16 or BF16).
#pragma once

#include <cstddef>
#include <vector>

#include "gemrt/backend/backend.h"

namespace gemrt::cpu {

class CpuKvCache final : public KvCache {
 public:
  explicit CpuKvCache(const KvLayout& layout);

  const KvLayout& layout() const override { return layout_; }
  int64_t next_position(int slot) const override { return next_.at(static_cast<size_t>(slot)); }
  void reset() override;
  int64_t bytes() const override;

  const KvSlotLayout& slot(int s) const;
  DType dtype() const { return layout_.dtype; }
  // Raw storage of slot s: row r of the keys starts at keys(s) + r * row_width * element size.
  std::byte* keys(int s) { return k_[static_cast<size_t>(s)].data(); }
  std::byte* values(int s) { return v_[static_cast<size_t>(s)].data(); }
  void set_next_position(int s, int64_t p) { next_[static_cast<size_t>(s)] = p; }

 private:
  KvLayout layout_;
  std::vector<std::vector<std::byte>> k_, v_;
  std::vector<int64_t> next_;
};

}  // namespace gemrt::cpu
