// What a graph needs from the KV cache: one slot per attention op that stores keys/values.
//
// A slot is a ring of `capacity` rows of width kv_heads * head_dim (post-RoPE K and V, stored as
// KvLayout::dtype: F32, or F16 / BF16 to halve the memory);
// position p lives in row p % capacity. Sliding layers get capacity = window (they never look
// further back); global layers get the sequence-length budget. The runtime sizes the layout once
// per sequence; backends allocate and own the storage.
#pragma once

#include <cstdint>
#include <vector>

#include "gemrt/core/dtype.h"

namespace gemrt {

struct KvSlotLayout {
  int capacity = 0;  // rows in the ring
  int kv_heads = 0;
  int head_dim = 0;
  int window = 0;    // the attention window of the layer(s) reading it; 0 = unbounded
  int64_t row_width() const { return int64_t{kv_heads} * head_dim; }
};

struct KvLayout {
  std::vector<KvSlotLayout> slots;
  DType dtype = DType::F32;  // storage of keys and values: F32, F16 or BF16
};

}  // namespace gemrt
