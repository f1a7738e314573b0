// Checks every backend makes before it runs a graph: run-time inputs against the graph, and an
// attention op's positions against its KV slot. Shared so that every backend refuses the same
// runs with the same messages.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "gemrt/backend/backend.h"
#include "gemrt/graph/ir.h"
#include "gemrt/graph/kv_layout.h"

namespace gemrt {

// The values supplied for Input node `n`; throws if they are missing or of the wrong count or dtype.
InputData graph_input(const RunInputs& inputs, const Node& n);

// Token ids for a gather from `table` ([V, D]): each in [0, V); the error names the id, its
// position and the table.
void check_token_ids(const TensorView& table, std::span<const int32_t> ids);

// An attention op's run over KV slot `slot` (which holds positions [0, cached)): the slot's shape
// matches the op, positions are consecutive and continue the slot's sequence, and the ring still
// holds every key the run's queries need (sliding layers) or has room for them (global layers).
void check_attention_run(const AttentionAttrs& a, const KvSlotLayout& slot, int64_t cached,
                         std::span<const int32_t> positions);

// ReplaceRows' index ([T], graph/ir.h): each -1 (keep the row) or a row of the m replacement rows.
void check_row_index(std::span<const int32_t> index, int64_t m, const std::string& op);

// An attention op's bidirectional blocks ([T, 2], graph/ir.h AttentionAttrs) for a run at
// `positions`: each row's block is empty, or contains the row's own position and lies inside the
// run (a block's keys come from the run itself, never from the KV ring).
void check_attention_blocks(std::span<const int32_t> positions, std::span<const int32_t> blocks);

}  // namespace gemrt
