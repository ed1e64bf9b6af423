// Filling a network's weights from named tensors of another source (an imported ONNX file's
// initializers, say), matched by name and checked by shape. It works on the name → tensor map
// (a Graph's `constants`), so weights/ stays below networks/ in the dependency order.
#pragma once

#include <map>
#include <string>

#include "kernels/tensor.h"

namespace pda {

// Replaces every tensor of `dst` by a copy of the tensor of the same name in `src`. Tensors of `src`
// that `dst` does not name are ignored. Throws an input error naming the tensor (and `source`, e.g.
// the file) when one is missing from `src` or has another shape; `dst` is untouched then.
void load_weights_by_name(std::map<std::string, Tensor>& dst, const std::map<std::string, Tensor>& src,
                          const std::string& source = "the weights");

}  // namespace pda
