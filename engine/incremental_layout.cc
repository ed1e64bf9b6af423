// layout_incremental (incremental_layout.h): how every step input is read, decided once per
// step input for both executors; in one arena, first what lives for the whole program (the batch, replicated unchanged
// values, kept values and their assembled copies), then the other values' buffers, each reusing the
// space of buffers whose last reader has run (first fit by step lifetime), then one scratch region
// shared by all steps (a step's gathered inputs are read only by its own op, and the steps run in
// order on one stream).
#include "engine/incremental_layout.h"

#include <algorithm>
#include <map>
#include <vector>

namespace pda {

namespace {

int64_t aligned(int64_t n, int64_t a) { return (n + a - 1) / a * a; }

}  // namespace

IncrementalLayout layout_incremental(const Graph& g, const IncrementalPlan& plan, int64_t batch,
                                     const std::set<std::string>& keep, int64_t align_floats) {
    if (batch < 1) fail_input("incremental execution needs a batch of at least one image");
    if (align_floats < 1) fail_input("layout alignment must be positive");
    IncrementalLayout l;
    l.batch = batch;
    const std::map<std::string, Shape> shapes_b = infer_shapes(g, {plan.batch_shape(batch)});
    for (const std::string& o : g.outputs) l.kept.insert(o);
    for (const std::string& o : keep) {
        if (!plan.values.count(o) || plan.value(o).constant)
            fail_input("value '" + o + "' is not computed in graph '" + g.name + "'");
        l.kept.insert(o);
    }

    // Which values crop steps and full steps read, each step input's form, and each value's last
    // reader (step index).
    std::set<std::string> read_by_crop, read_in_full;
    std::map<std::string, size_t> last_read;
    for (const PlannedStep& st : plan.steps) {
        const Node& n = g.nodes.at(st.node);
        const PlannedValue& out = plan.value(n.output);
        LayoutStep ls;
        ls.in_shapes = plan.input_shapes(g, st, shapes_b);
        ls.out_shape = plan.output_shape(g, st, shapes_b);
        for (size_t j = 0; j < n.inputs.size(); ++j) {
            const std::string& in = n.inputs[j];
            InputForm f = InputForm::kConstant;
            if (g.is_constant(in)) {  // as it is, or cropped like an unchanged value (from its own data)
                const auto c = plan.values.find(in);
                ls.form.push_back(
                    st.held == Held::kCrop && c != plan.values.end() && c->second.constant ? InputForm::kGather : f);
                continue;
            }
            const PlannedValue& src = plan.value(in);
            last_read[in] = l.steps.size();
            if (st.held == Held::kCrop) {
                read_by_crop.insert(in);
                const bool tiled = st.window && j == 0;
                const bool same_crop = src.held == Held::kCrop && src.cd == out.cd && src.ch == out.ch &&
                                       src.cw == out.cw && src.oz == out.oz && src.oy == out.oy && src.ox == out.ox;
                f = !tiled && same_crop ? InputForm::kValue : InputForm::kGather;
            } else {
                read_in_full.insert(in);
                f = src.held == Held::kInput       ? InputForm::kBatch
                    : src.held == Held::kFull      ? InputForm::kValue
                    : src.held == Held::kUnchanged ? InputForm::kBroadcast
                                                   : InputForm::kAssemble;
            }
            ls.form.push_back(f);
        }
        l.steps.push_back(std::move(ls));
    }

    auto take = [&](int64_t& total, int64_t n) {
        const int64_t at = total;
        total += aligned(std::max<int64_t>(n, 1), align_floats);
        return at;
    };
    auto arena = [&](int64_t n) {
        l.buffer_elements.push_back(n);
        return take(l.arena_floats, n);
    };
    // What lives for the whole program, in order.
    l.input = arena(shapes_b.at(plan.input).numel());
    struct Transient {
        std::string value;
        size_t first = 0, last = 0;  // steps writing and last reading it
        int64_t n = 0;
    };
    std::vector<Transient> transient;
    std::map<std::string, size_t> written;
    for (size_t i = 0; i < plan.steps.size(); ++i) written[g.nodes[plan.steps[i].node].output] = i;
    for (const auto& [name, pv] : plan.values) {
        LayoutValue lv;
        if (pv.constant) {  // read in place
            l.values[name] = lv;
            continue;
        }
        const Shape& full = shapes_b.at(name);
        const bool kept = l.kept.count(name) != 0;
        if (pv.held == Held::kCrop || pv.held == Held::kFull) {
            if (pv.held == Held::kCrop) lv.clean = take(l.clean_floats, pv.shape.numel());
            const int64_t n = pv.held == Held::kCrop ? pv.crop_shape(batch, pv.channels()).numel() : full.numel();
            if (kept) {
                lv.buf = arena(n);  // read after the run (directly, or assembled into `shown`)
                if (pv.held == Held::kCrop) lv.shown = arena(full.numel());
            } else {
                const size_t first = written.at(name);
                auto r = last_read.find(name);
                transient.push_back({name, first, r == last_read.end() ? first : std::max(first, r->second), n});
            }
        } else if (pv.held == Held::kUnchanged) {
            const bool replicated = read_in_full.count(name) || kept;
            if (replicated && full.numel() != batch * pv.shape.numel())
                fail_input("incremental execution: unchanged value '" + name + "' " + full.str() +
                           " does not keep the batch in dimension 0");
            if (read_by_crop.count(name) || replicated) lv.clean = take(l.clean_floats, pv.shape.numel());
            if (replicated) lv.broadcast = arena(full.numel());
        }
        l.values[name] = lv;
    }

    // The other values' buffers, in step order: the lowest offset free for the buffer's whole
    // lifetime [first, last] (a step's output never shares space with its inputs: they are read at
    // that step).
    std::sort(transient.begin(), transient.end(),
              [](const Transient& a, const Transient& b) { return a.first < b.first; });
    const int64_t base = l.arena_floats;
    struct Placed {
        int64_t at = 0, end = 0;
        size_t last = 0;
    };
    std::vector<Placed> placed;
    int64_t top = 0;
    for (const Transient& t : transient) {
        l.buffer_elements.push_back(t.n);
        const int64_t size = aligned(std::max<int64_t>(t.n, 1), align_floats);
        std::vector<Placed> alive;
        for (const Placed& p : placed)
            if (p.last >= t.first) alive.push_back(p);
        std::sort(alive.begin(), alive.end(), [](const Placed& a, const Placed& b) { return a.at < b.at; });
        int64_t at = 0;
        for (const Placed& p : alive) {
            if (p.at - at >= size) break;
            at = std::max(at, p.end);
        }
        placed.push_back({at, at + size, t.last});
        top = std::max(top, at + size);
        l.values.at(t.value).buf = base + at;
    }
    l.arena_floats += top;

    // The scratch region: each step's gathered inputs from its start; as large as the largest step's.
    const int64_t scratch_at = l.arena_floats;
    for (LayoutStep& ls : l.steps) {
        int64_t used = 0;
        ls.scratch.assign(ls.form.size(), -1);
        for (size_t j = 0; j < ls.form.size(); ++j) {
            if (ls.form[j] != InputForm::kGather && ls.form[j] != InputForm::kAssemble) continue;
            l.buffer_elements.push_back(ls.in_shapes[j].numel());
            ls.scratch[j] = scratch_at + take(used, ls.in_shapes[j].numel());
        }
        l.scratch_floats = std::max(l.scratch_floats, used);
    }
    l.arena_floats += l.scratch_floats;
    return l;
}

int64_t layout_batch_cap(const IncrementalLayout& at1, const IncrementalLayout& at2, int64_t max_elements) {
    if (at1.batch != 1 || at2.batch != 2 || at1.buffer_elements.size() != at2.buffer_elements.size())
        fail_internal("layout_batch_cap needs the same layout at batch 1 and 2");
    int64_t cap = max_elements;
    for (size_t i = 0; i < at1.buffer_elements.size(); ++i) {
        const int64_t n1 = at1.buffer_elements[i], per_image = at2.buffer_elements[i] - n1, fixed = n1 - per_image;
        if (per_image > 0) cap = std::min(cap, std::max<int64_t>(max_elements - fixed, 0) / per_image);
    }
    return cap;
}

namespace {

// A value as a gather reads it: whole maps, crops over the clean map, or the clean map alone. Only
// maps of the input's spatial rank are ever gathered (the plan's crop rule); an image's have depth 1.
CropSource source_of(const IncrementalPlan& plan, const IncrementalLayout& l, const LayoutMemory& m,
                     const std::string& name) {
    const PlannedValue& pv = plan.value(name);
    const LayoutValue& lv = l.values.at(name);
    if (pv.shape.rank != plan.image.rank)
        fail_internal("incremental execution gathers from '" + name + "' " + pv.shape.str());
    CropSource s;
    s.d = pv.map_d();
    s.h = pv.map_h();
    s.w = pv.map_w();
    switch (pv.held) {
        case Held::kInput:
        case Held::kFull:
            s.data = m.arena + (pv.held == Held::kInput ? l.input : lv.buf);
            s.cd = s.d;
            s.ch = s.h;
            s.cw = s.w;
            break;
        case Held::kCrop:
            s.data = m.arena + lv.buf;
            s.clean = m.clean + lv.clean;
            s.cd = pv.cd;
            s.ch = pv.ch;
            s.cw = pv.cw;
            s.oz = m.table(name, 0);
            s.oy = m.table(name, 1);
            s.ox = m.table(name, 2);
            break;
        case Held::kUnchanged:
            s.clean = pv.constant ? m.constant(name) : m.clean + lv.clean;
            break;
    }
    return s;
}

// The whole (d, h, w) map of source s as a tile at (0, 0, 0): full maps assembled from the clean map and
// crops.
CropTile whole_map(int64_t batch, int64_t channels, const CropSource& s) {
    CropTile t;
    t.batch = batch;
    t.channels = channels;
    t.td = s.d;
    t.th = s.h;
    t.tw = s.w;
    return t;
}

void check_offset(int64_t at, int64_t limit, const std::string& what) {
    if (at < 0 || at >= limit) fail_internal("incremental layout: " + what + " at " + std::to_string(at));
}

}  // namespace

LayoutBinding bind_layout(const Graph& g, const IncrementalPlan& plan, const IncrementalLayout& l,
                          const LayoutMemory& m) {
    if (!m.arena || !m.clean || !m.constant || !m.table || !m.avg_factor)
        fail_internal("bind_layout: memory incomplete");
    const int64_t B = l.batch;
    LayoutBinding r;
    r.input = m.arena + l.input;
    for (size_t i = 0; i < plan.steps.size(); ++i) {
        const PlannedStep& ps = plan.steps[i];
        const LayoutStep& ls = l.steps.at(i);
        const Node& n = g.nodes.at(ps.node);
        const PlannedValue& out = plan.value(n.output);
        BoundStep st;
        check_offset(l.values.at(n.output).buf, l.arena_floats, "'" + n.output + "'");
        st.out = m.arena + l.values.at(n.output).buf;
        for (size_t j = 0; j < n.inputs.size(); ++j) {
            const std::string& v = n.inputs[j];
            BoundInput x;
            x.form = ls.form[j];
            switch (x.form) {
                case InputForm::kConstant:
                    x.ptr = m.constant(v);
                    break;
                case InputForm::kBatch:
                    x.ptr = r.input;
                    break;
                case InputForm::kValue:
                    check_offset(l.values.at(v).buf, l.arena_floats, "'" + v + "'");
                    x.ptr = m.arena + l.values.at(v).buf;
                    break;
                case InputForm::kBroadcast:
                    check_offset(l.values.at(v).broadcast, l.arena_floats, "'" + v + "' replicated");
                    x.ptr = m.arena + l.values.at(v).broadcast;
                    break;
                case InputForm::kGather:
                case InputForm::kAssemble: {
                    const Shape& s = ls.in_shapes[j];  // (B, C, [td,] th, tw), or the full (B, C, [d,] h, w)
                    check_offset(ls.scratch[j], l.arena_floats, "scratch of '" + n.name + "'");
                    x.scratch = m.arena + ls.scratch[j];
                    x.ptr = x.scratch;
                    x.source = source_of(plan, l, m, v);
                    if (s.rank != plan.image.rank || s[0] != B || s[1] != plan.value(v).channels())
                        fail_internal("incremental step '" + n.name + "' reads '" + v + "' as " + s.str());
                    if (x.form == InputForm::kAssemble) {
                        x.tile = whole_map(B, s[1], x.source);
                        break;
                    }
                    x.tile.batch = B;
                    x.tile.channels = s[1];
                    x.tile.td = s.rank == 5 ? s[2] : 1;
                    x.tile.th = s[s.rank - 2];
                    x.tile.tw = s[s.rank - 1];
                    x.tile.oz = m.table(n.output, 0);
                    x.tile.oy = m.table(n.output, 1);
                    x.tile.ox = m.table(n.output, 2);
                    if (ps.window && j == 0) {  // the tile around the output crop, padding included
                        x.tile.stride_d = ps.stride_d;
                        x.tile.pad_d = ps.pad_d;
                        x.tile.stride_h = ps.stride_h;
                        x.tile.stride_w = ps.stride_w;
                        x.tile.pad_h = ps.pad_h;
                        x.tile.pad_w = ps.pad_w;
                        x.tile.pad = ps.pad_value;
                    }
                    break;
                }
            }
            st.inputs.push_back(x);
        }
        if (!ps.avg_factor.empty()) {
            st.factor = m.avg_factor(i);
            st.crop.batch = B;
            st.crop.channels = out.channels();
            st.crop.td = out.cd;
            st.crop.th = out.ch;
            st.crop.tw = out.cw;
            st.crop.oz = m.table(n.output, 0);
            st.crop.oy = m.table(n.output, 1);
            st.crop.ox = m.table(n.output, 2);
            st.map_h = out.map_h();
            st.map_w = out.map_w();
        }
        r.steps.push_back(std::move(st));
    }
    for (const auto& [name, lv] : l.values) {
        const PlannedValue& pv = plan.value(name);
        if (lv.broadcast >= 0) {
            check_offset(lv.clean, l.clean_floats, "clean '" + name + "'");
            r.broadcasts.push_back({m.arena + lv.broadcast, m.clean + lv.clean, pv.shape.numel()});
        }
        if (!l.kept.count(name)) continue;
        const int64_t at = pv.held == Held::kInput  ? l.input
                           : pv.held == Held::kFull ? lv.buf
                           : pv.held == Held::kCrop ? lv.shown
                                                    : lv.broadcast;
        check_offset(at, l.arena_floats, "kept '" + name + "'");
        r.kept_values[name] = m.arena + at;
        if (pv.held == Held::kCrop) {
            const CropSource s = source_of(plan, l, m, name);
            r.shown.push_back({m.arena + lv.shown, whole_map(B, pv.channels(), s), s});
        }
    }
    return r;
}

}  // namespace pda
