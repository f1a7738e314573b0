// Buffer planning: one arena per compiled graph, with offsets reused by liveness.
//
// A value (activation or run-time input) is live from the node that produces it to its last
// reader; graph outputs stay live to the end. Values whose lifetimes do not overlap may share
// bytes. An op never writes over its own inputs (its output is placed before its inputs are
// released), so kernels need not be in-place safe. Input nodes are placed before every other
// value, wherever they stand in the graph: a backend may write all of them before the first node
// runs.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "gemrt/graph/ir.h"

namespace gemrt {

struct BufferPlan {
  static constexpr int64_t kAlign = 64;  // bytes; every offset is a multiple
  std::vector<int64_t> offset;           // per node; -1 for weights
  std::vector<int64_t> bytes;            // per node; 0 for weights
  std::vector<int32_t> last_use;         // per node: index of the last node reading it (or size() for outputs)
  int64_t arena_bytes = 0;               // the arena size the plan needs
  int64_t unshared_bytes = 0;            // what the values would take with no reuse (for reports/tests)
};

// A read of `value` performed at node `at` although `at` does not list it as an input: a backend
// that fuses ops (graph/fusion.h) runs some nodes' work at a later node's place, and the values it
// then reads must stay live until there.
struct MovedRead {
  ValueId value = -1;
  int32_t at = -1;
};

BufferPlan plan_buffers(const Graph& g, std::span<const MovedRead> moved_reads = {});

}  // namespace gemrt
