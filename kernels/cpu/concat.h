// Concat along one axis: each input is copied as (outer, its axis length · inner) blocks into the
// output (outer, total axis length · inner).
#pragma once

#include <vector>

#include "kernels/tensor.h"

namespace pda {

// axis in [0, rank); inputs agree with y on every other axis.
void concat_forward(const std::vector<ConstTensorView>& in, int axis, TensorView y);

}  // namespace pda
