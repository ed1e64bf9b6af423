// Loading weights by name: every name and shape is checked before anything is copied, so a
// failed load leaves the network as it was.
#include "weights/load_by_name.h"

namespace pda {

void load_weights_by_name(std::map<std::string, Tensor>& dst, const std::map<std::string, Tensor>& src,
                          const std::string& source) {
    for (const auto& [name, t] : dst) {
        auto it = src.find(name);
        if (it == src.end()) fail_input("weight '" + name + "' " + t.shape().str() + " is missing from " + source);
        if (it->second.shape() != t.shape())
            fail_input("weight '" + name + "' in " + source + " has shape " + it->second.shape().str() +
                       ", the network expects " + t.shape().str());
    }
    for (auto& [name, t] : dst) t = src.at(name).clone();
}

}  // namespace pda
