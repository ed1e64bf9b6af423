// PackedWeights (context.h): one packed copy per constant and layout within a context.
#include "kernels/cpu/context.h"

#include <algorithm>

#include "kernels/cpu/dnnl_util.h"

namespace pda {

dnnl::memory PackedWeights::get(const ConstFloats& w, const dnnl::memory::desc& plain, const dnnl::memory::desc& wanted,
                                const dnnl::engine& eng, dnnl::stream& s) {
    if (w.owner.expired()) return dnnl_pack_constant(plain, w.data, wanted, eng, s);  // no owner: not shared
    std::lock_guard<std::mutex> lock(mu_);
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(), [](const Entry& e) { return e.owner.expired(); }),
                   entries_.end());
    const auto same_owner = [&](const Entry& e) {
        return !e.owner.owner_before(w.owner) && !w.owner.owner_before(e.owner);
    };
    for (const Entry& e : entries_)
        if (e.data == w.data && same_owner(e) && e.plain == plain && e.wanted == wanted) return e.packed;
    entries_.push_back({w.data, w.owner, plain, wanted, dnnl_pack_constant(plain, w.data, wanted, eng, s)});
    return entries_.back().packed;
}

size_t PackedWeights::entries() const {
    std::lock_guard<std::mutex> lock(mu_);
    return entries_.size();
}

}  // namespace pda
