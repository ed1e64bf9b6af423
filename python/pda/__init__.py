"""pda: Prediction Difference Analysis (Zintgraf et al., ICLR 2017), fast.

Load a classifier, fit the conditional sampler on a few photos, and map the evidence for its classes
onto an image::

    import pda
    model = pda.Model("squeezenet1.1.onnx")           # or "alexnet", "vgg16", "googlenet"
    sampler = pda.fit_sampler(model, "photos/", k=10)  # a folder, a path or a list of paths
    explainer = pda.Explainer(model, sampler_file=sampler, k=10, samples=10, stride=4)
    result = explainer.explain("cat.png")              # a path, uint8 H x W x 3, or float32 C x H x W
    result.relevance                                   # float32 (classes, H, W), bits of evidence
    result.classes[0].label, result.summary["seconds"]

Arrays come in through the buffer protocol or DLPack (numpy arrays, CPU torch tensors) and go out as
numpy arrays that own pda's results (no copy). The GIL is released while pda works; Ctrl-C stops it.
Bad input raises ValueError with the message the `pda` command prints.
"""

from ._pda import (
    Explainer,
    Explanation,
    Model,
    Prediction,
    Sampler,
    build_info,
    fit_sampler,
    hardware_threads,
    version,
)

__version__ = version()

__all__ = [
    "Explainer",
    "Explanation",
    "Model",
    "Prediction",
    "Sampler",
    "build_info",
    "fit_sampler",
    "hardware_threads",
    "version",
]
