// Shape: the dimensions of a dense row-major float tensor, up to kMaxRank. Images are N×C×H×W,
// volumes N×C×D×H×W; other ranks appear in general ONNX graphs (Gemm, Flatten, Reshape, ...).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "pda/error.h"

namespace pda {

constexpr int kMaxRank = 8;

struct Shape {
    int rank = 0;
    std::array<int64_t, kMaxRank> dims{};

    Shape() = default;
    Shape(std::initializer_list<int64_t> d) { assign(d.begin(), d.end()); }
    explicit Shape(const std::vector<int64_t>& d) { assign(d.begin(), d.end()); }

    template <class It>
    void assign(It first, It last) {
        rank = 0;
        for (It it = first; it != last; ++it) {
            if (rank == kMaxRank) fail_input("tensor rank above " + std::to_string(kMaxRank) + " is not supported");
            dims[rank++] = *it;
        }
    }

    int64_t operator[](int i) const { return dims[i]; }
    int64_t& operator[](int i) { return dims[i]; }
    // Negative i counts from the back, as in numpy.
    int64_t at(int i) const { return dims[i < 0 ? rank + i : i]; }

    int64_t numel() const {
        int64_t n = 1;
        for (int i = 0; i < rank; ++i) n *= dims[i];
        return n;
    }
    // Spatial rank of an N×C×... tensor (1, 2 or 3 for the image/volume ops).
    int spatial_rank() const { return rank - 2; }
    std::vector<int64_t> vec() const { return std::vector<int64_t>(dims.begin(), dims.begin() + rank); }

    bool operator==(const Shape& o) const {
        if (rank != o.rank) return false;
        for (int i = 0; i < rank; ++i)
            if (dims[i] != o.dims[i]) return false;
        return true;
    }
    bool operator!=(const Shape& o) const { return !(*this == o); }

    std::string str() const {
        std::string s = "(";
        for (int i = 0; i < rank; ++i) s += (i ? "×" : "") + std::to_string(dims[i]);
        return s + ")";
    }
};

}  // namespace pda
