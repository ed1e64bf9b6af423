// BatchProgram: the network as the PDA loop (engine/explain.cc) runs it: a batch of images, each
// equal to the explained image except inside one window of the current block, computed in full or
// incrementally (exact; METHOD.md §5). Four implementations, CPU / CUDA × full / incremental
// (engine/cpu/programs.cc, engine/cuda/programs.cc). Pointers are in the backend's memory: host
// memory on the CPU, device memory on CUDA.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/tensor.h"
#include "kernels/window_math.h"
#include "pda/error.h"
#include "pda/options.h"

namespace pda {

class BatchProgram {
  public:
    virtual ~BatchProgram() = default;
    // Images per run.
    virtual int64_t batch() const = 0;
    // The (batch, C, H, W) input, filled by the loop (clean copies, samples pasted) before run().
    virtual float* input() = 0;
    // Runs the batch. Image b holds window block.image_window(b) (an incremental program reads only
    // that window of it; a clean image may name any window). Asynchronous backends do not wait.
    virtual void run(const PdaWindows& block) = 0;
    // A graph output or kept value of the last run, (batch, ...), as a full forward gives it.
    virtual const float* value(const std::string& name) const = 0;

    // A program that reads nothing of an image but its window (a linear first layer,
    // engine/linear_head.h) takes the block's samples as they are drawn, (count·S, patch), instead of
    // a batch of images with the samples pasted in; input() and run() are then unused, and images
    // past count·S, or all of them when samples is null, are the clean image.
    virtual bool takes_samples() const { return false; }

    // Makes the program one for the clean image x, of the shape it was compiled for, instead of the
    // image it was made with (what it caches of the clean image is computed again). False when it
    // cannot: compile a new one.
    virtual bool rebind(ConstTensorView x) { return false; }
    virtual void run_samples(const PdaWindows&, const float*) {
        fail_internal("this program takes a batch of images, not samples");
    }
};

}  // namespace pda
