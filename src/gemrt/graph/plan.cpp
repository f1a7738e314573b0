#include "gemrt/graph/plan.h"

#include <algorithm>
#include <iterator>
#include <map>

#include "gemrt/core/error.h"

namespace gemrt {
namespace {

int64_t round_up(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

// First-fit allocator over an unbounded arena; free blocks are kept coalesced.
class ArenaAllocator {
 public:
  int64_t allocate(int64_t size) {
    for (auto it = free_.begin(); it != free_.end(); ++it) {
      if (it->second >= size) {
        const int64_t off = it->first;
        const int64_t rest = it->second - size;
        free_.erase(it);
        if (rest > 0) free_[off + size] = rest;
        return off;
      }
    }
    // Grow: reuse a free block that touches the current end, if any.
    int64_t off = end_;
    if (!free_.empty()) {
      auto last = std::prev(free_.end());
      if (last->first + last->second == end_) {
        off = last->first;
        free_.erase(last);
      }
    }
    end_ = std::max(end_, off + size);
    return off;
  }

  void release(int64_t off, int64_t size) {
    auto next = free_.lower_bound(off);
    if (next != free_.end() && off + size == next->first) {  // merge with the following block
      size += next->second;
      next = free_.erase(next);
    }
    if (next != free_.begin()) {
      auto prev = std::prev(next);
      if (prev->first + prev->second == off) {  // merge with the preceding block
        prev->second += size;
        return;
      }
    }
    free_[off] = size;
  }

  int64_t end() const { return end_; }

 private:
  std::map<int64_t, int64_t> free_;  // offset -> size
  int64_t end_ = 0;
};

}  // namespace

BufferPlan plan_buffers(const Graph& g, std::span<const MovedRead> moved_reads) {
  const int n = g.size();
  BufferPlan p;
  p.offset.assign(static_cast<size_t>(n), -1);
  p.bytes.assign(static_cast<size_t>(n), 0);
  p.last_use.assign(static_cast<size_t>(n), -1);
  for (int i = 0; i < n; ++i)
    for (ValueId in : g.node(i).inputs) p.last_use[static_cast<size_t>(in)] = i;
  for (const MovedRead& r : moved_reads) {
    if (r.value < 0 || r.at <= r.value || r.at >= n) fail("plan_buffers: a moved read must come after its value, inside the graph");
    int32_t& last = p.last_use[static_cast<size_t>(r.value)];
    last = std::max(last, r.at);
  }
  for (const auto& o : g.outputs()) p.last_use[static_cast<size_t>(o.value)] = n;
  // Values to release after node i is placed: those whose last reader is i.
  std::vector<std::vector<ValueId>> release_at(static_cast<size_t>(n));
  for (int v = 0; v < n; ++v) {
    const int32_t last = p.last_use[static_cast<size_t>(v)];
    if (last >= 0 && last < n && g.node(v).op != OpKind::Weight) release_at[static_cast<size_t>(last)].push_back(v);
  }

  ArenaAllocator arena;
  auto release = [&](int v) { arena.release(p.offset[static_cast<size_t>(v)], p.bytes[static_cast<size_t>(v)]); };
  const auto place = [&](int i) {
    const auto ui = static_cast<size_t>(i);
    const Node& node = g.node(i);
    p.bytes[ui] = round_up(dtype_bytes(node.dtype, node.shape.numel()), BufferPlan::kAlign);
    p.offset[ui] = arena.allocate(p.bytes[ui]);
    p.unshared_bytes += p.bytes[ui];
  };
  // Inputs first, wherever they stand in the graph: a backend may write every input before the
  // first node runs (the CUDA backend copies them all up front), so no earlier value may share
  // an input's bytes.
  for (int i = 0; i < n; ++i)
    if (g.node(i).op == OpKind::Input) place(i);
  for (int i = 0; i < n; ++i) {
    const Node& node = g.node(i);
    const auto ui = static_cast<size_t>(i);
    if (node.op == OpKind::Weight) {
      for (ValueId v : release_at[ui]) release(v);
      continue;
    }
    if (node.op != OpKind::Input) place(i);
    // Values whose last reader is this node are released after its output is placed.
    for (ValueId v : release_at[ui]) release(v);
    if (p.last_use[ui] < 0) release(i);  // nobody reads it: dead after it is written
  }
  p.arena_bytes = arena.end();
  return p;
}

}  // namespace gemrt
