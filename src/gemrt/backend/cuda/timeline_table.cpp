#include "gemrt/backend/cuda/timeline_table.h"

#include <algorithm>
#include <map>

namespace gemrt::cuda {

TimelineTable timeline_table(std::span<const uint64_t> slots, const std::vector<std::string>& labels) {
  constexpr uint64_t kUnset = UINT64_MAX;
  struct Total {
    int kernels = 0, boundaries = 0;
    double boundary_us = 0.0, own_us = 0.0;
  };
  std::map<std::string, Total> totals;
  TimelineTable table;
  uint64_t first = kUnset, last = 0, prev_end = 0;
  bool prev = false;  // the launch before was stamped
  const size_t steps = std::min(slots.size() / 6, labels.size());
  for (size_t i = 0; i < steps; ++i) {
    if (labels[i].empty()) continue;
    bool any = false;
    for (size_t k = 0; k < 2; ++k) {
      const uint64_t* s = slots.data() + 6 * i + 3 * k;
      if (s[0] == kUnset || s[1] == kUnset || s[2] == kUnset) continue;
      any = true;
      const uint64_t start = s[0], released = s[1], end = ~s[2];
      Total& t = totals[k == 0 ? labels[i] + " [rounding]" : labels[i]];
      ++t.kernels;
      const double own = static_cast<double>(end - released) / 1000.0;
      t.own_us += own;
      table.own_us += own;
      if (prev) {
        const double b = (static_cast<double>(released) - static_cast<double>(prev_end)) / 1000.0;
        ++t.boundaries;
        t.boundary_us += b;
        table.boundary_us += b;
      }
      first = std::min(first, start);
      last = std::max(last, end);
      prev_end = end;
      prev = true;
    }
    if (!any) prev = false;
  }
  if (totals.empty()) return table;
  table.span_us = static_cast<double>(last - first) / 1000.0;
  std::vector<std::pair<std::string, Total>> sorted(totals.begin(), totals.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
    return a.second.own_us + a.second.boundary_us > b.second.own_us + b.second.boundary_us;
  });
  for (const auto& [kernel, t] : sorted)
    table.rows.push_back({kernel, t.kernels, t.boundaries ? t.boundary_us / t.boundaries : 0.0, t.own_us / t.kernels});
  return table;
}

}  // namespace gemrt::cuda
