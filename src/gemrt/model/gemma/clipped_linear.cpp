#include "gemrt/model/gemma/clipped_linear.h"

#include <cmath>

namespace gemrt {

ValueId clipped_linear(GraphBuilder& b, ValueId x, const ClippedLinearWeights& w, const std::string& label) {
  const auto bounded = [](float lo, float hi) { return std::isfinite(lo) || std::isfinite(hi); };
  if (bounded(w.in_lo, w.in_hi)) x = b.clamp(x, w.in_lo, w.in_hi, label + "_clamp_in");
  ValueId y = b.matmul(x, b.weight(w.weight), label);
  if (bounded(w.out_lo, w.out_hi)) y = b.clamp(y, w.out_lo, w.out_hi, label + "_clamp_out");
  return y;
}

}  // namespace gemrt
