// The layout plan of the CPU program: which computed values lie in oneDNN's blocked layout
// (kernels/cpu/dnnl_util.h) instead of plain NCHW, so that a chain of convolutions, pools,
// activations and channel concats runs in the layout oneDNN's convolutions compute in, with no
// reorder between them. A value is blocked when its producer can write it so and every reader can
// read it so; graph inputs, outputs, kept values and whatever a view, a fully connected layer or
// any other op reads stay plain, so everything outside the program sees plain NCHW. Values whose
// channels are no whole blocks lie channels last, as oneDNN's convolutions and pools compute them,
// where every reader reads them so (a last layer's 1000 classes into a global pool; a volume's first
// 8 maps through ReLU and a max pool into the next convolution: no reorder between them).
#pragma once

#include <map>
#include <set>
#include <string>

#include "kernels/cpu/dnnl_util.h"
#include "networks/graph.h"

namespace pda {

struct CpuLayoutPlan {
    std::set<std::string> blocked;        // in oneDNN's blocked layout
    std::set<std::string> channels_last;  // channels last
    Layout of(const std::string& v) const {
        return blocked.count(v) ? Layout::kBlocked : channels_last.count(v) ? Layout::kChannelsLast : Layout::kPlain;
    }
};

// The layouts of g's values (every value in neither set is plain). external: the values read from
// outside the program (outputs, kept values); graph inputs are always plain.
CpuLayoutPlan plan_cpu_layouts(const Graph& g, const std::map<std::string, Shape>& shapes,
                               const std::set<std::string>& external);

}  // namespace pda
