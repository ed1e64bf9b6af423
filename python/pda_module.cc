// pda._pda, the Python module over the public C++ API (include/pda): models, explainers and fitted
// samplers, numpy in and out. The GIL is released while pda works; a progress callback reacquires it
// and also checks for Ctrl-C. pda::Error of the input kind becomes ValueError, of the internal kind
// RuntimeError, with the CLI's message. The pure-Python face (python/pda/__init__.py) re-exports it.
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/filesystem.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/shared_ptr.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "pda/explainer.h"
#include "pda/pda.h"
#include "pda/sampler.h"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

// ---- arrays ------------------------------------------------------------------------------------

using AnyArray = nb::ndarray<nb::ro>;

// A float32 numpy array that owns `values` (moved, not copied).
nb::object to_numpy(std::vector<float>&& values, const std::vector<int64_t>& shape) {
    auto* owned = new std::vector<float>(std::move(values));
    nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<std::vector<float>*>(p); });
    const std::vector<size_t> dims(shape.begin(), shape.end());
    return nb::cast(nb::ndarray<nb::numpy, float>(owned->data(), dims.size(), dims.data(), owner));
}

std::string shape_str(const AnyArray& a) {
    std::string s = "(";
    for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
}

std::string dtype_str(const AnyArray& a) {
    const nb::dlpack::dtype t = a.dtype();
    const char* code = t.code == uint8_t(nb::dlpack::dtype_code::Int)      ? "int"
                       : t.code == uint8_t(nb::dlpack::dtype_code::UInt)   ? "uint"
                       : t.code == uint8_t(nb::dlpack::dtype_code::Float)  ? "float"
                       : t.code == uint8_t(nb::dlpack::dtype_code::Bfloat) ? "bfloat"
                       : t.code == uint8_t(nb::dlpack::dtype_code::Bool)   ? "bool"
                                                                           : "complex";
    return code + std::to_string(t.bits);
}

// An array (numpy, or anything with the buffer protocol or DLPack: a CPU torch tensor) or nothing.
bool as_array(nb::handle obj, AnyArray& out) {
    if (nb::isinstance<nb::str>(obj) || nb::isinstance<nb::bytes>(obj)) return false;
    return nb::try_cast(obj, out, false);
}

// Refuses arrays pda cannot read in place: not on the CPU, or not C-contiguous.
void check_layout(const AnyArray& a, const char* what) {
    if (a.device_type() != nb::device::cpu::value)
        throw nb::value_error((std::string(what) + " must be in CPU memory (move a GPU tensor with .cpu())").c_str());
    int64_t expect = 1;
    for (size_t i = a.ndim(); i-- > 0;) {
        if (a.shape(i) != 1 && a.stride(i) != expect)
            throw nb::value_error((std::string(what) + " of shape " + shape_str(a) +
                                   " is not C-contiguous; pass numpy.ascontiguousarray(...) (or tensor.contiguous())")
                                      .c_str());
        expect *= static_cast<int64_t>(a.shape(i));
    }
}

bool is_dtype(const AnyArray& a, nb::dlpack::dtype t) { return a.dtype() == t; }

// ---- the model ---------------------------------------------------------------------------------

// A model and the lock that serialises the calls into it (its explainers' included): pda's programs
// and buffers belong to one call at a time.
struct PyModel {
    std::shared_ptr<pda::Model> model;
    std::shared_ptr<std::mutex> lock = std::make_shared<std::mutex>();
};

pda::Device device_of(const std::string& s) { return pda::parse_device(s); }

std::vector<int64_t> input_shape(const pda::Model& m) {
    if (m.volume()) return {m.channels(), m.depth(), m.height(), m.width()};
    return {m.channels(), m.height(), m.width()};
}

std::string shape_text(const std::vector<int64_t>& s) {
    std::string t = "(";
    for (size_t i = 0; i < s.size(); ++i) t += (i ? ", " : "") + std::to_string(s[i]);
    return t + ")";
}

std::string fspath(nb::handle obj) { return nb::cast<std::string>(nb::module_::import_("os").attr("fspath")(obj)); }

bool is_pathlike(nb::handle obj) { return nb::isinstance<nb::str>(obj) || nb::hasattr(obj, "__fspath__"); }

// An image argument, classified and checked: a path, 8-bit RGB pixels (H, W, 3) or an already
// preprocessed float32 array of the model's input shape `want` (with or without a leading 1). The
// array stays referenced while the pointers are in use.
struct ImageArg {
    enum class Kind { kPath, kRgb, kFloats } kind = Kind::kPath;
    std::string path;
    pda::RgbImage rgb;
    const float* floats = nullptr;
    int64_t count = 0;
    AnyArray array;
};

ImageArg image_arg(nb::handle image, const std::vector<int64_t>& want, const std::string& model_name) {
    ImageArg arg;
    if (is_pathlike(image)) {
        arg.path = fspath(image);
        return arg;
    }
    AnyArray& a = arg.array;
    if (!as_array(image, a))
        throw nb::type_error(("an image is a path, an 8-bit H × W × 3 array or a float32 array, got " +
                              nb::cast<std::string>(nb::str(image.type())))
                                 .c_str());
    check_layout(a, "the image array");
    if (is_dtype(a, nb::dtype<uint8_t>())) {
        if (a.ndim() != 3 || a.shape(2) != 3)
            throw nb::value_error(("an 8-bit image is H × W × 3 (RGB), got shape " + shape_str(a)).c_str());
        arg.kind = ImageArg::Kind::kRgb;
        arg.rgb.pixels = static_cast<const uint8_t*>(a.data());
        arg.rgb.height = static_cast<int>(a.shape(0));
        arg.rgb.width = static_cast<int>(a.shape(1));
        return arg;
    }
    if (!is_dtype(a, nb::dtype<float>()))
        throw nb::value_error(("image arrays are uint8 (H × W × 3 RGB) or float32 (preprocessed " + shape_text(want) +
                               "), got " + dtype_str(a))
                                  .c_str());
    std::vector<int64_t> got;
    for (size_t i = 0; i < a.ndim(); ++i) got.push_back(static_cast<int64_t>(a.shape(i)));
    if (got.size() == want.size() + 1 && got[0] == 1) got.erase(got.begin());
    if (got != want)
        throw nb::value_error(
            ("a preprocessed input for " + model_name + " is float32 " + shape_text(want) + ", got " + shape_str(a))
                .c_str());
    arg.kind = ImageArg::Kind::kFloats;
    arg.floats = static_cast<const float*>(a.data());
    arg.count = static_cast<int64_t>(a.size());
    return arg;
}

// One model input in network-input space, (C, [D,] H, W) float32, of an image argument.
std::vector<float> model_input(pda::Model& m, nb::handle image) {
    const ImageArg arg = image_arg(image, input_shape(m), m.name());
    if (arg.kind == ImageArg::Kind::kFloats) {
        std::vector<float> out(arg.floats, arg.floats + arg.count);
        for (size_t i = 0; i < out.size(); ++i)
            if (!std::isfinite(out[i]))
                throw nb::value_error(
                    ("the preprocessed input holds a non-finite value at flat index " + std::to_string(i)).c_str());
        return out;
    }
    nb::gil_scoped_release unlocked;
    return arg.kind == ImageArg::Kind::kPath ? m.preprocess(arg.path) : m.preprocess(arg.rgb);
}

nb::object predict(PyModel& self, nb::handle images) {
    pda::Model& m = *self.model;
    std::vector<nb::handle> items;
    AnyArray a;
    const size_t rank = input_shape(m).size();
    bool stacked = false;
    if (nb::isinstance<nb::list>(images) || nb::isinstance<nb::tuple>(images)) {
        for (nb::handle h : images) items.push_back(h);
        if (items.empty()) throw nb::value_error("predict() needs at least one image");
    } else if (as_array(images, a) && is_dtype(a, nb::dtype<float>()) && a.ndim() == rank + 1) {
        stacked = true;  // (N, C, [D,] H, W)
    } else {
        items.push_back(images);
    }
    std::vector<float> batch;
    int n = 0;
    if (stacked) {
        check_layout(a, "the image batch");
        std::vector<int64_t> want = input_shape(m), got;
        for (size_t i = 1; i < a.ndim(); ++i) got.push_back(static_cast<int64_t>(a.shape(i)));
        if (got != want || a.shape(0) == 0)
            throw nb::value_error(("a batch of preprocessed inputs for " + m.name() + " is float32 (N, " +
                                   shape_text(want).substr(1) + " with N ≥ 1, got " + shape_str(a))
                                      .c_str());
        const float* v = static_cast<const float*>(a.data());
        batch.assign(v, v + a.size());
        for (size_t i = 0; i < batch.size(); ++i)
            if (!std::isfinite(batch[i]))
                throw nb::value_error(
                    ("the preprocessed batch holds a non-finite value at flat index " + std::to_string(i)).c_str());
        n = static_cast<int>(a.shape(0));
    } else {
        for (nb::handle h : items) {
            std::vector<float> x = model_input(m, h);
            batch.insert(batch.end(), x.begin(), x.end());
            ++n;
        }
    }
    const int k = m.num_classes();
    std::vector<float> probs;
    {
        nb::gil_scoped_release unlocked;
        std::lock_guard<std::mutex> hold(*self.lock);
        probs = m.probabilities(batch, n);
    }
    return to_numpy(std::move(probs), {n, k});
}

// ---- explanations ------------------------------------------------------------------------------

struct PyExplanation {
    nb::object relevance, counts;
    nb::dict nodes;
    std::vector<pda::Prediction> classes;
    nb::object summary;
    int64_t windows = 0, forward_passes = 0, batch = 0, uncovered = 0;
    nb::dict seconds;
    nb::object folder;
};

nb::object json_loads(const std::string& s) { return nb::module_::import_("json").attr("loads")(s); }

PyExplanation wrap(pda::ExplainResult&& r) {
    PyExplanation e;
    e.relevance = to_numpy(std::move(r.relevance.values), r.relevance.shape);
    e.counts = to_numpy(std::move(r.counts.values), r.counts.shape);
    for (pda::Map& m : r.nodes) e.nodes[nb::str(m.name.c_str())] = to_numpy(std::move(m.values), m.shape);
    e.classes = std::move(r.classes);
    e.summary = json_loads(r.summary_json);
    e.windows = r.windows;
    e.forward_passes = r.forward_passes;
    e.batch = r.batch;
    e.uncovered = r.uncovered;
    e.seconds["setup"] = r.seconds.setup;
    e.seconds["compile"] = r.seconds.compile;
    e.seconds["sampling"] = r.seconds.sampling;
    e.seconds["network"] = r.seconds.network;
    e.seconds["reduce"] = r.seconds.reduce;
    e.seconds["total"] = r.seconds.total;
    e.folder = r.folder.empty() ? nb::none() : nb::cast(r.folder);
    return e;
}

// The classes to explain: "top3" / "all" / "281,285", an int (that class) or a sequence of ints.
pda::ClassSelection classes_of(nb::handle c) {
    if (nb::isinstance<nb::str>(c)) return pda::parse_classes(nb::cast<std::string>(c));
    if (nb::isinstance<nb::bool_>(c)) throw nb::type_error("classes is 'topN', 'all', a class id or a list of ids");
    if (nb::isinstance<nb::int_>(c)) return pda::ClassSelection::list({nb::cast<int64_t>(c)});
    std::vector<int64_t> ids;
    if (!nb::try_cast(c, ids, false)) throw nb::type_error("classes is 'topN', 'all', a class id or a list of ids");
    if (ids.empty()) throw nb::value_error("classes: the list of class ids is empty");
    for (int64_t id : ids)
        if (id < 0) throw nb::value_error(("classes: a class id is ≥ 0, got " + std::to_string(id)).c_str());
    for (size_t i = 0; i < ids.size(); ++i)
        for (size_t j = 0; j < i; ++j)
            if (ids[i] == ids[j])
                throw nb::value_error(("classes: class " + std::to_string(ids[i]) + " is listed twice").c_str());
    return pda::ClassSelection::list(std::move(ids));
}

struct PyExplainer {
    std::unique_ptr<pda::Explainer> e;
    std::shared_ptr<std::mutex> lock;
    std::string model_name;
    std::vector<int64_t> input;
};

// The progress callback pda calls between batches (GIL released): reacquires the GIL, calls the
// user's function and stops the work (by throwing) on its exception or on Ctrl-C.
std::function<void(int64_t, int64_t)> progress_of(nb::object progress) {
    return [progress](int64_t done, int64_t total) {
        nb::gil_scoped_acquire locked;
        if (PyErr_CheckSignals() != 0) throw nb::python_error();
        if (!progress.is_none()) progress(done, total);
    };
}

PyExplanation explain(PyExplainer& self, nb::handle image, nb::object out_dir, nb::object progress, nb::object name) {
    const std::string out = out_dir.is_none() ? std::string() : fspath(out_dir);
    const auto report = progress_of(progress);
    ImageArg arg = image_arg(image, self.input, self.model_name);
    const std::string label = name.is_none() ? std::string() : nb::cast<std::string>(name);
    if (arg.kind == ImageArg::Kind::kPath && !label.empty())
        throw nb::value_error("name applies to arrays; a file's result is named after the file");
    if (arg.kind == ImageArg::Kind::kRgb && !label.empty()) arg.rgb.name = label;
    pda::ExplainResult r;
    {
        nb::gil_scoped_release unlocked;
        std::lock_guard<std::mutex> hold(*self.lock);
        switch (arg.kind) {
            case ImageArg::Kind::kPath:
                r = self.e->explain(arg.path, out, report);
                break;
            case ImageArg::Kind::kRgb:
                r = self.e->explain(arg.rgb, out, report);
                break;
            case ImageArg::Kind::kFloats:
                r = self.e->explain_preprocessed(arg.floats, arg.count, label.empty() ? "tensor" : label, out, report);
                break;
        }
    }
    return wrap(std::move(r));
}

// A conditional sampler given as a fitted Sampler in memory or as a sampler file's path.
void set_sampler_file(pda::ExplainerOptions& o, nb::handle f) {
    if (f.is_none()) return;
    std::shared_ptr<pda::FittedSampler> fitted;
    if (nb::try_cast(f, fitted, false) && fitted) {
        o.fitted_sampler = fitted;
        return;
    }
    if (!is_pathlike(f)) throw nb::type_error("sampler_file is a path or a pda.Sampler");
    o.sampler_file = fspath(f);
}

std::vector<std::string> image_list(nb::handle images, bool volumes) {
    if (is_pathlike(images)) {
        const std::string p = fspath(images);
        std::error_code ec;
        if (std::filesystem::is_directory(p, ec)) return volumes ? pda::list_volumes(p) : pda::list_images(p);
        return {p};
    }
    std::vector<std::string> out;
    for (nb::handle h : images) {
        if (!is_pathlike(h)) throw nb::type_error("images is a folder, a path or a list of paths");
        out.push_back(fspath(h));
    }
    return out;
}

}  // namespace

NB_MODULE(_pda, m) {
    m.doc() =
        "pda: Prediction Difference Analysis (Zintgraf et al., ICLR 2017) on a CPU (oneDNN) or CUDA engine. "
        "Model loads a classifier, Explainer maps the evidence for its classes onto the input, fit_sampler "
        "fits the conditional sampler's Gaussian.";

    nb::register_exception_translator([](const std::exception_ptr& p, void*) {
        try {
            std::rethrow_exception(p);
        } catch (const pda::Error& e) {
            PyErr_SetString(e.kind() == pda::ErrorKind::kInput ? PyExc_ValueError : PyExc_RuntimeError, e.what());
        }
    });

    m.def("version", &pda::version, "The library's version.");
    m.def("build_info", &pda::build_info, "Version and build options (CUDA, cuDNN, oneDNN, ONNX), one per line.");
    m.def("hardware_threads", &pda::hardware_threads, "The processors this process may run on.");

    nb::class_<pda::Prediction>(m, "Prediction", "One class with its label and probability.")
        .def_ro("class_id", &pda::Prediction::class_id, "The class index.")
        .def_ro("label", &pda::Prediction::label, "Its label (empty when the model has none).")
        .def_ro("probability", &pda::Prediction::probability, "p(class | image).")
        .def("__repr__", [](const pda::Prediction& p) {
            return "Prediction(class_id=" + std::to_string(p.class_id) + ", label='" + p.label +
                   "', probability=" + std::to_string(p.probability) + ")";
        });

    nb::class_<PyModel>(m, "Model",
                        "A classifier: an ONNX file (with its sidecar <stem>.json) or a built-in network (alexnet, "
                        "googlenet, vgg16).")
        .def(
            "__init__",
            [](PyModel* self, nb::handle model, const std::string& device, const std::string& precision, int threads,
               const std::string& preset, nb::object weights, uint64_t seed,
               const std::vector<std::pair<std::string, std::string>>& sidecar) {
                pda::ModelOptions o;
                o.device = device_of(device);
                o.precision = pda::parse_precision(precision);
                o.threads = threads;
                o.preset = preset;
                o.weights = weights.is_none() ? std::string() : fspath(weights);
                o.seed = seed;
                o.sidecar = sidecar;
                const std::string spec = fspath(model);
                pda::check_options(o);
                std::shared_ptr<pda::Model> loaded;
                {
                    nb::gil_scoped_release unlocked;
                    loaded = std::make_shared<pda::Model>(pda::Model::load(spec, o));
                }
                new (self) PyModel{std::move(loaded)};
            },
            nb::sig("def __init__(self, model: str | os.PathLike[str], device: str = 'auto', precision: str = 'fp32', "
                    "threads: int = 0, preset: str = '', weights: str | os.PathLike[str] | None = None, seed: int = 0, "
                    "sidecar: collections.abc.Sequence[tuple[str, str]] = []) -> None"),
            "model"_a, "device"_a = "auto", "precision"_a = "fp32", "threads"_a = 0, "preset"_a = "",
            "weights"_a = nb::none(), "seed"_a = 0, "sidecar"_a = std::vector<std::pair<std::string, std::string>>{},
            "Loads a model. device: 'auto' (the first GPU, else the CPU), 'cpu' or 'cuda:N'; precision: fp32, or "
            "bf16 (CPUs with AVX-512-BF16/AMX; CUDA), tf32/fp16 (CUDA), winograd (CPU: 3x3 convolutions by "
            "Winograd's algorithm); threads: CPU threads for this model's "
            "calls (0: all cores); preset: 'caffe' or 'torchvision' preprocessing for an ONNX file without a "
            "sidecar; weights: an ONNX file whose initializers fill a built-in network (otherwise random, from "
            "seed); sidecar: fields over the sidecar's, e.g. [('mean', '0,0,0')].")
        .def_prop_ro(
            "name", [](const PyModel& s) { return s.model->name(); }, "What the model was loaded as.")
        .def_prop_ro(
            "input_shape", [](const PyModel& s) { return input_shape(*s.model); },
            "The network's input: [C, H, W], or [C, D, H, W] for a volume model.")
        .def_prop_ro(
            "is_volume", [](const PyModel& s) { return s.model->volume(); }, "A model of volumes (C × D × H × W).")
        .def_prop_ro(
            "num_classes", [](const PyModel& s) { return s.model->num_classes(); }, "Classes of its output.")
        .def_prop_ro(
            "labels", [](const PyModel& s) { return s.model->labels(); }, "Class labels (may be empty).")
        .def_prop_ro(
            "device", [](const PyModel& s) { return s.model->device().str(); }, "Where it runs: 'cpu' or 'cuda:N'.")
        .def_prop_ro(
            "precision", [](const PyModel& s) { return std::string(pda::precision_name(s.model->precision())); },
            "Its arithmetic: fp32, tf32, fp16, bf16 or winograd.")
        .def_prop_ro(
            "threads", [](const PyModel& s) { return s.model->threads(); }, "CPU threads of its calls (0: all).")
        .def(
            "preprocess",
            [](PyModel& s, nb::handle image) {
                std::vector<float> x = model_input(*s.model, image);
                return to_numpy(std::move(x), input_shape(*s.model));
            },
            nb::sig("def preprocess(self, image: str | os.PathLike[str] | numpy.typing.ArrayLike) -> "
                    "numpy.typing.NDArray[numpy.float32]"),
            "image"_a,
            "The network's input for an image: a path (image or volume file) or 8-bit H × W × 3 RGB pixels, "
            "resized, cropped and normalised as the model says. Returns float32 (C, H, W) (C, D, H, W for "
            "volumes).")
        .def("predict", &predict,
             nb::sig("def predict(self, images: str | os.PathLike[str] | numpy.typing.ArrayLike | "
                     "collections.abc.Sequence[str | os.PathLike[str] | numpy.typing.ArrayLike]) -> "
                     "numpy.typing.NDArray[numpy.float32]"),
             "images"_a,
             "Class probabilities, float32 (N, K): of a path, an 8-bit H × W × 3 array, a preprocessed float32 "
             "(C, H, W) array, a float32 batch (N, C, H, W), or a list of any of them.")
        .def(
            "top",
            [](const PyModel& s, nb::ndarray<const float, nb::ndim<1>, nb::c_contig, nb::device::cpu> probs, int k) {
                if (static_cast<int>(probs.shape(0)) != s.model->num_classes())
                    throw nb::value_error(("top() takes one row of " + std::to_string(s.model->num_classes()) +
                                           " probabilities, got " + std::to_string(probs.shape(0)))
                                              .c_str());
                if (k < 1) throw nb::value_error("top(): k must be ≥ 1");
                return s.model->top(probs.data(), std::min(k, s.model->num_classes()));
            },
            "probs"_a, "k"_a = 5, "The k most probable classes of one row of predict()'s output.")
        .def(
            "info", [](const PyModel& s, int64_t pda_k) { return json_loads(s.model->info_json(pda_k)); },
            "pda_k"_a = 0,
            "What `pda info --json` prints, as a dict: nodes, shapes, parameters, MFLOP; with pda_k the "
            "incremental execution's crops and MFLOP for pda_k × pda_k windows.")
        .def("__repr__", [](const PyModel& s) {
            return "Model('" + s.model->name() + "', input_shape=" + shape_text(input_shape(*s.model)) +
                   ", classes=" + std::to_string(s.model->num_classes()) + ", device='" + s.model->device().str() +
                   "')";
        });

    nb::class_<pda::FittedSampler>(m, "Sampler",
                                   "The conditional sampler's Gaussian over l × l × C patches (l = k + 2·pad), "
                                   "fitted on images in a model's input space (fit_sampler) or read from a file.")
        .def_static(
            "load",
            [](const std::filesystem::path& p) {
                return std::make_shared<pda::FittedSampler>(pda::FittedSampler::load(p.string()));
            },
            "path"_a, "Reads a sampler file (from save() or `pda fit-sampler`).")
        .def(
            "save", [](const pda::FittedSampler& s, const std::filesystem::path& p) { s.save(p.string()); }, "path"_a,
            "Writes the sampler file in one step (the file is either absent or complete).")
        .def_prop_ro("k", &pda::FittedSampler::k, "Window size it was fitted for.")
        .def_prop_ro("pad", &pda::FittedSampler::pad, "Context around the window: l = k + 2·pad.")
        .def_prop_ro("channels", &pda::FittedSampler::channels)
        .def_prop_ro("dim", &pda::FittedSampler::dim, "The Gaussian's dimension: l·l·C (l·l·l·C for volumes).")
        .def_prop_ro("patches", &pda::FittedSampler::patches, "Patches the global fit used.")
        .def_prop_ro("positions", &pda::FittedSampler::positions, "Patch positions in all images (0 when loaded).")
        .def_prop_ro("cell", &pda::FittedSampler::cell, "Location conditioning's cell size (0: none).")
        .def_prop_ro("cells", &pda::FittedSampler::cells)
        .def_prop_ro("fallback_cells", &pda::FittedSampler::fallback_cells,
                     "Cells with too few patches, which use the global Gaussian.")
        .def_prop_ro("value_range", &pda::FittedSampler::value_range, "(min, max) per channel.")
        .def_prop_ro("images", &pda::FittedSampler::images, "File names it was fitted on.")
        .def_prop_ro("model", &pda::FittedSampler::model, "The model it was fitted for.")
        .def_prop_ro(
            "path", [](const pda::FittedSampler& s) { return s.path().empty() ? nb::none() : nb::cast(s.path()); },
            "The file it was loaded from or last saved to (None: in memory only).")
        .def_prop_ro("seconds_fit", &pda::FittedSampler::seconds_fit)
        .def("__repr__", [](const pda::FittedSampler& s) {
            return "Sampler(k=" + std::to_string(s.k()) + ", pad=" + std::to_string(s.pad()) +
                   ", dim=" + std::to_string(s.dim()) + ", patches=" + std::to_string(s.patches()) +
                   ", images=" + std::to_string(s.images().size()) + ")";
        });

    m.def(
        "fit_sampler",
        [](const PyModel& model, nb::handle images, int k, int pad, int64_t max_patches, uint64_t seed, int cell,
           nb::object mask) {
            pda::SamplerFitOptions o;
            o.k = k;
            o.pad = pad;
            o.max_patches = max_patches;
            o.seed = seed;
            o.cell = cell;
            o.mask = mask.is_none() ? std::string() : fspath(mask);
            pda::check_options(o);
            const std::vector<std::string> files = image_list(images, model.model->volume());
            nb::gil_scoped_release unlocked;
            std::lock_guard<std::mutex> hold(*model.lock);
            return std::make_shared<pda::FittedSampler>(pda::FittedSampler::fit(*model.model, files, o));
        },
        nb::sig(
            "def fit_sampler(model: Model, images: str | os.PathLike[str] | collections.abc.Sequence[str | "
            "os.PathLike[str]], k: int = 10, pad: int = 2, max_patches: int = 200000, seed: int = 0, cell: int = 0, "
            "mask: str | os.PathLike[str] | None = None) -> Sampler"),
        "model"_a, "images"_a, "k"_a = 10, "pad"_a = 2, "max_patches"_a = pda::kDefaultMaxPatches, "seed"_a = 0,
        "cell"_a = 0, "mask"_a = nb::none(),
        "Fits the conditional sampler's Gaussian on images (a folder, a path or a list of paths), each "
        "preprocessed as the model's input: l × l × C patches, l = k + 2·pad, a seeded subset of max_patches "
        "(0: all). cell > 0: one Gaussian per cell of that many pixels (voxels) per axis. mask: a volume "
        "model's fit only on patches centred inside it. Returns a Sampler (save() writes the file).");

    nb::class_<PyExplanation>(m, "Explanation", "The result of Explainer.explain().")
        .def_ro("relevance", &PyExplanation::relevance,
                nb::sig("def relevance(self) -> numpy.typing.NDArray[numpy.float32]"),
                "float32 (M, H, W) ((M, D, H, W) for volumes): weight of evidence, in bits, per pixel for each "
                "explained class (positive: the pixel's value speaks for the class).")
        .def_ro("counts", &PyExplanation::counts, nb::sig("def counts(self) -> numpy.typing.NDArray[numpy.float32]"),
                "float32 (H, W): windows covering each pixel.")
        .def_ro("nodes", &PyExplanation::nodes,
                nb::sig("def nodes(self) -> dict[str, numpy.typing.NDArray[numpy.float32]]"),
                "{node name: float32 (units, H, W) activation difference}.")
        .def_ro("classes", &PyExplanation::classes, "The explained classes, in relevance's order.")
        .def_ro("summary", &PyExplanation::summary, nb::sig("def summary(self) -> dict[str, typing.Any]"),
                "What summary.json holds, as a dict.")
        .def_ro("windows", &PyExplanation::windows)
        .def_ro("forward_passes", &PyExplanation::forward_passes)
        .def_ro("batch", &PyExplanation::batch)
        .def_ro("uncovered", &PyExplanation::uncovered, "Pixels no window covered (0 in every map).")
        .def_ro("seconds", &PyExplanation::seconds, nb::sig("def seconds(self) -> dict[str, float]"),
                "Seconds by phase: setup, compile, sampling, network, reduce, total.")
        .def_ro("folder", &PyExplanation::folder, nb::sig("def folder(self) -> str | None"),
                "Where the result was written (None when not written).")
        .def("__repr__", [](const PyExplanation& e) {
            std::string c;
            for (const pda::Prediction& p : e.classes) c += (c.empty() ? "" : ", ") + std::to_string(p.class_id);
            return "Explanation(classes=[" + c + "], windows=" + std::to_string(e.windows) +
                   ", forward_passes=" + std::to_string(e.forward_passes) + ")";
        });

    nb::class_<PyExplainer>(m, "Explainer",
                            "Prediction Difference Analysis of one model with one sampler and parameters; explain() "
                            "maps the evidence of an image (or volume).")
        .def(
            "__init__",
            [](PyExplainer* self, const PyModel& model, const std::string& sampler, nb::handle sampler_file,
               nb::object sample_images, int k, int samples, int stride, int pad, nb::handle classes,
               const std::vector<std::string>& nodes, uint64_t seed, int batch, const std::string& exec,
               int64_t max_windows, float fill, bool per_channel, bool clip, double laplace_n, int64_t max_patches,
               nb::object slices, float threshold) {
                pda::ExplainerOptions o;
                o.sampler = pda::parse_sampler(sampler);
                set_sampler_file(o, sampler_file);
                o.sample_images = sample_images.is_none() ? std::string() : fspath(sample_images);
                o.k = k;
                o.samples = samples;
                o.stride = stride;
                o.pad = pad;
                o.classes = classes_of(classes);
                o.nodes = nodes;
                o.seed = seed;
                o.batch = batch;
                o.exec = pda::parse_execution(exec);
                o.max_windows = max_windows;
                o.fill = fill;
                o.per_channel = per_channel;
                o.clip = clip;
                o.laplace_n = laplace_n;
                o.max_patches = max_patches;
                if (!slices.is_none()) o.slices = pda::parse_slices(nb::cast<std::string>(slices));
                o.slice_threshold = threshold;
                if (max_windows < -1) throw nb::value_error("max_windows must be ≥ −1 (−1 = all windows)");
                pda::check_options(o);
                std::unique_ptr<pda::Explainer> e;
                {
                    nb::gil_scoped_release unlocked;
                    std::lock_guard<std::mutex> hold(*model.lock);
                    e = std::make_unique<pda::Explainer>(*model.model, o);
                }
                new (self) PyExplainer{std::move(e), model.lock, model.model->name(), input_shape(*model.model)};
            },
            nb::sig("def __init__(self, model: Model, sampler: str = 'conditional', sampler_file: str | "
                    "os.PathLike[str] | Sampler | None = None, sample_images: str | os.PathLike[str] | None = None, "
                    "k: int = 10, samples: int = 10, stride: int = 1, pad: int = 2, classes: str | int | "
                    "collections.abc.Sequence[int] = 'top3', nodes: collections.abc.Sequence[str] = [], seed: int = 0, "
                    "batch: int = 0, exec: str = 'incremental', max_windows: int = -1, fill: float = 0.0, "
                    "per_channel: bool = False, clip: bool = False, laplace_n: float = 100000.0, max_patches: int = 0, "
                    "slices: str | None = None, threshold: float = 0.15) -> None"),
            "model"_a, "sampler"_a = "conditional", "sampler_file"_a = nb::none(), "sample_images"_a = nb::none(),
            "k"_a = 10, "samples"_a = 10, "stride"_a = 1, "pad"_a = 2, "classes"_a = "top3",
            "nodes"_a = std::vector<std::string>{}, "seed"_a = 0, "batch"_a = 0, "exec"_a = "incremental",
            "max_windows"_a = -1, "fill"_a = 0.f, "per_channel"_a = false, "clip"_a = false, "laplace_n"_a = 100000.0,
            "max_patches"_a = 0, "slices"_a = nb::none(), "threshold"_a = 0.15f,
            "sampler: 'conditional' (needs sampler_file: a path or a pda.Sampler, or sample_images to fit on), "
            "'marginal' (needs sample_images) or 'occlusion' (constant fill). k: window size; samples: per "
            "window; stride: between windows; pad: the conditional sampler's context (l = k + 2·pad); classes: "
            "'top3', 'all', a class id or a list of ids; nodes: hidden values mapped by activation difference; "
            "seed: every random choice derives from it; batch: resampled images per batch (0: from memory); "
            "exec: 'incremental' (exact, faster) or 'full'; max_windows: only the first N windows (-1: all); "
            "slices, threshold: the slice pictures of a volume result written to a folder.")
        .def("explain", &explain,
             nb::sig("def explain(self, image: str | os.PathLike[str] | numpy.typing.ArrayLike, out_dir: str | "
                     "os.PathLike[str] | None = None, progress: collections.abc.Callable[[int, int], object] | None = "
                     "None, name: str | None = None) -> Explanation"),
             "image"_a, "out_dir"_a = nb::none(), "progress"_a = nb::none(), "name"_a = nb::none(),
             "Explains one input: a path (image or volume file), 8-bit H × W × 3 RGB pixels, or a float32 array "
             "already in the network's input space (C, H, W) / (C, D, H, W). With out_dir, also writes "
             "out_dir/<name>/ exactly as `pda explain` does. progress(done, total) is called between batches "
             "(windows); Ctrl-C stops the work. Returns an Explanation.")
        .def_prop_ro(
            "windows", [](const PyExplainer& s) { return s.e->windows(); }, "Windows per input at the stride.")
        .def_prop_ro("samples_per_window", [](const PyExplainer& s) { return s.e->samples_per_window(); })
        .def_prop_ro("device", [](const PyExplainer& s) { return s.e->device().str(); })
        .def_prop_ro("precision",
                     [](const PyExplainer& s) { return std::string(pda::precision_name(s.e->precision())); })
        .def(
            "describe", [](const PyExplainer& s) { return json_loads(s.e->describe_json()); },
            "The model, parameters, device and precision, as every summary records them (a dict).");
}
