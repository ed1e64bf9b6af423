// Small oneDNN helpers shared by the CPU kernels: dims and plain (row-major) memory descriptors
// from a Shape, and the plain-layout arguments whose reorders to and from a primitive's chosen
// layout are built once and then only executed (no allocation while running).
#pragma once

#include <dnnl.hpp>

#include "kernels/shape.h"

namespace pda {

inline dnnl::memory::dims dnnl_dims(const Shape& s) { return dnnl::memory::dims(s.vec()); }

// Row-major layout tag for a rank (a, ab, abc, ... — nchw, ncdhw for images and volumes).
inline dnnl::memory::format_tag dnnl_plain_tag(int rank) {
    using tag = dnnl::memory::format_tag;
    switch (rank) {
        case 1:
            return tag::a;
        case 2:
            return tag::ab;
        case 3:
            return tag::abc;
        case 4:
            return tag::abcd;
        case 5:
            return tag::abcde;
        case 6:
            return tag::abcdef;
        default:
            fail_internal("oneDNN plain layout for rank " + std::to_string(rank));
    }
}

inline dnnl::memory::desc dnnl_plain_md(const Shape& s) {
    return {dnnl_dims(s), dnnl::memory::data_type::f32, dnnl_plain_tag(s.rank)};
}

// How an activation (N, C, spatial...) lies in memory: plain row-major; oneDNN's blocked layout
// nC(spatial)Bc (channels in blocks of B = channel_block(), the block innermost: aBcd16b with AVX-512,
// aBcd8b with AVX2 or less), the layout its convolutions and pools compute in on this CPU, so that a
// chain of convolutions, pools and concats runs without a reorder between them; or channels last
// N(spatial)C (acb, acdb, acdeb), the layout of its brgconv kernels for channels that are no whole
// blocks (a last layer's 1000 classes), which a global pool reads as it lies. Blocked only where C is
// a multiple of B (no padding): every layout holds the same number of floats as plain, so one memory
// plan serves all.
enum class Layout { kPlain, kBlocked, kChannelsLast };

// Whether oneDNN runs its AVX-512 kernels here (ONEDNN_MAX_CPU_ISA can lower what it runs).
inline bool cpu_has_avx512() {
    const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa()), avx512 = unsigned{dnnl_cpu_isa_avx512_core};
    return (isa & avx512) == avx512;  // the ISA values are sets of feature bits
}
// The channels of one block of the blocked layout: the vector width, in floats, of the instruction
// set oneDNN runs here (16 with AVX-512, 8 below). With any other block oneDNN has only its
// reference kernels (several times slower) and reorders around each op.
inline int64_t channel_block() {
    static const int64_t b = cpu_has_avx512() ? 16 : 8;
    return b;
}

// Whether a value of shape s can lie in the blocked layout.
inline bool blockable(const Shape& s) { return s.rank >= 3 && s.rank <= 5 && s[1] % channel_block() == 0; }
// Whether a value of shape s can lie channels last.
inline bool channels_last_able(const Shape& s) { return s.rank >= 3 && s.rank <= 5; }

inline dnnl::memory::desc dnnl_md(const Shape& s, Layout layout,
                                  dnnl::memory::data_type type = dnnl::memory::data_type::f32) {
    using tag = dnnl::memory::format_tag;
    if (layout == Layout::kPlain) return {dnnl_dims(s), type, dnnl_plain_tag(s.rank)};
    if (layout == Layout::kChannelsLast) {
        if (!channels_last_able(s)) fail_internal("channels-last layout for shape " + s.str());
        static const tag last[] = {tag::acb, tag::acdb, tag::acdeb};
        return {dnnl_dims(s), type, last[s.rank - 3]};
    }
    if (!blockable(s)) fail_internal("blocked layout for shape " + s.str());
    static const tag blocked16[] = {tag::aBc16b, tag::aBcd16b, tag::aBcde16b};
    static const tag blocked8[] = {tag::aBc8b, tag::aBcd8b, tag::aBcde8b};
    return {dnnl_dims(s), type, (channel_block() == 16 ? blocked16 : blocked8)[s.rank - 3]};
}

// An argument the caller passes in its own layout (plain or blocked); when the primitive
// wants another layout, a reorder into memory owned here runs first.
class DnnlPlainInput {
  public:
    void init(const dnnl::memory::desc& plain, const dnnl::memory::desc& wanted, const dnnl::engine& eng) {
        user_ = dnnl::memory(plain, eng, DNNL_MEMORY_NONE);
        needs_reorder_ = plain != wanted;
        if (needs_reorder_) {
            internal_ = dnnl::memory(wanted, eng);
            reorder_ = dnnl::reorder(user_, internal_);
        }
    }
    // The memory the primitive reads (fixed after init, so argument maps can be built once).
    const dnnl::memory& mem() const { return needs_reorder_ ? internal_ : user_; }
    // Makes mem() hold the data of p.
    void prepare(const float* p, dnnl::stream& s) {
        user_.set_data_handle(const_cast<float*>(p));
        if (needs_reorder_) reorder_.execute(s, user_, internal_);
    }

  private:
    dnnl::memory user_, internal_;
    dnnl::reorder reorder_;
    bool needs_reorder_ = false;
};

// An output the caller wants in its own layout; the primitive writes mem() after target(p), then
// finish() reorders into p when the layouts differ.
class DnnlPlainOutput {
  public:
    void init(const dnnl::memory::desc& plain, const dnnl::memory::desc& produced, const dnnl::engine& eng) {
        user_ = dnnl::memory(plain, eng, DNNL_MEMORY_NONE);
        needs_reorder_ = plain != produced;
        if (needs_reorder_) {
            internal_ = dnnl::memory(produced, eng);
            reorder_ = dnnl::reorder(internal_, user_);
        }
    }
    const dnnl::memory& mem() const { return needs_reorder_ ? internal_ : user_; }
    void target(float* p) { user_.set_data_handle(p); }
    void finish(dnnl::stream& s) {
        if (needs_reorder_) reorder_.execute(s, internal_, user_);
    }

  private:
    dnnl::memory user_, internal_;
    dnnl::reorder reorder_;
    bool needs_reorder_ = false;
};

// Reorders a constant plain tensor into the layout a primitive chose, once, into owned memory.
inline dnnl::memory dnnl_pack_constant(const dnnl::memory::desc& plain, const float* data,
                                       const dnnl::memory::desc& wanted, const dnnl::engine& eng, dnnl::stream& s) {
    dnnl::memory src(plain, eng, const_cast<float*>(data));
    dnnl::memory dst(wanted, eng);
    dnnl::reorder(src, dst).execute(s, src, dst);
    s.wait();
    return dst;
}

// Primitive attributes with a user-owned scratchpad, so that execution never allocates.
inline dnnl::primitive_attr dnnl_user_scratchpad_attr() {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
}

}  // namespace pda
