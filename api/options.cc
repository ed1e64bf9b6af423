// The parsers and names of include/pda/options.h: the one place where option strings become types.
#include "pda/options.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "pda/error.h"

namespace pda {
namespace {

bool all_digits(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

}  // namespace

std::string Device::str() const {
    switch (kind) {
        case Kind::kAuto:
            return "auto";
        case Kind::kCpu:
            return "cpu";
        case Kind::kCuda:
            return "cuda:" + std::to_string(index);
    }
    return "?";
}

std::string ClassSelection::str() const {
    if (kind == Kind::kAll) return "all";
    if (kind == Kind::kTop) return "top" + std::to_string(top);
    std::string s;
    for (size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
    return s;
}

const char* sampler_name(SamplerKind k) {
    switch (k) {
        case SamplerKind::kConditional:
            return "conditional";
        case SamplerKind::kMarginal:
            return "marginal";
        case SamplerKind::kOcclusion:
            return "occlusion";
    }
    return "?";
}

const char* execution_name(Execution e) { return e == Execution::kFull ? "full" : "incremental"; }

const char* precision_name(Precision p) {
    switch (p) {
        case Precision::kFp32:
            return "fp32";
        case Precision::kTf32:
            return "tf32";
        case Precision::kFp16:
            return "fp16";
        case Precision::kBf16:
            return "bf16";
        case Precision::kWinograd:
            return "winograd";
    }
    return "?";
}

SamplerKind parse_sampler(const std::string& s) {
    for (SamplerKind k : {SamplerKind::kConditional, SamplerKind::kMarginal, SamplerKind::kOcclusion})
        if (s == sampler_name(k)) return k;
    fail_input("sampler '" + s + "': expected conditional, marginal or occlusion");
}

Execution parse_execution(const std::string& s) {
    for (Execution e : {Execution::kIncremental, Execution::kFull})
        if (s == execution_name(e)) return e;
    fail_input("execution '" + s + "' is neither 'incremental' nor 'full'");
}

Precision parse_precision(const std::string& s) {
    for (Precision p : {Precision::kFp32, Precision::kTf32, Precision::kFp16, Precision::kBf16, Precision::kWinograd})
        if (s == precision_name(p)) return p;
    fail_input("unknown precision '" + s + "' (fp32, tf32, fp16, bf16 or winograd)");
}

Device parse_device(const std::string& s) {
    if (s == "auto") return Device::automatic();
    if (s == "cpu") return Device::cpu();
    if (s == "cuda") return Device::cuda(0);
    if (s.rfind("cuda:", 0) == 0) {
        const std::string n = s.substr(5);
        if (!all_digits(n) || n.size() > 4)
            fail_input("device '" + s + "': expected cuda or cuda:N with N a device number");
        return Device::cuda(std::stoi(n));
    }
    fail_input("device '" + s + "': expected auto, cpu or cuda[:N]");
}

ClassSelection parse_classes(const std::string& s) {
    if (s == "all") return ClassSelection::all();
    if (s.rfind("top", 0) == 0) {
        const std::string n = s.substr(3);
        if (!all_digits(n) || n.size() > 9 || std::stoll(n) < 1)
            fail_input("classes '" + s + "': expected top3 (or topN with 1 ≤ N < 10⁹), all, or ids like 281,285");
        return ClassSelection::top_n(std::stoll(n));
    }
    std::stringstream ss(s);
    std::string item;
    std::set<int64_t> seen;
    std::vector<int64_t> ids;
    while (std::getline(ss, item, ',')) {
        if (!all_digits(item))
            fail_input("classes '" + s + "': '" + item + "' is not a class id (expected top3, all, or ids)");
        if (item.size() > 18) fail_input("unknown class id " + item + ": far beyond any model's classes");
        const int64_t c = std::stoll(item);
        if (!seen.insert(c).second) fail_input("class id " + item + " is listed twice");
        ids.push_back(c);
    }
    if (ids.empty() || s.back() == ',') fail_input("classes '" + s + "' names no class");
    return ClassSelection::list(std::move(ids));
}

std::vector<VolumeSlicePick> parse_slices(const std::string& s) {
    std::stringstream ss(s);
    std::string item;
    std::vector<VolumeSlicePick> picks;
    while (std::getline(ss, item, ',')) {
        const std::string n = item.empty() ? "" : item.substr(1);
        if (item.empty() || (item[0] != 'x' && item[0] != 'y' && item[0] != 'z') || !all_digits(n) || n.size() > 9)
            fail_input("slices '" + s + "': '" + item +
                       "' is not a slice (expected x45,y54,z40: an axis and a voxel index)");
        const VolumeSlicePick p{item[0], std::stoll(n)};
        if (std::find(picks.begin(), picks.end(), p) != picks.end())
            fail_input("slices '" + s + "': " + item + " is listed twice");
        picks.push_back(p);
    }
    if (picks.empty() || s.back() == ',') fail_input("slices '" + s + "' names no slice");
    return picks;
}

}  // namespace pda
