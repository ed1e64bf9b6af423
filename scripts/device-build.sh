#!/usr/bin/env bash
# Runs HERE (no GPU needed): builds pda, pda_tests and pda_bench with the CUDA backend for sm_90 and
# packs them with the non-CUDA shared libraries they need into .carry/device/ (git-ignored), which
# the lent GPU machine receives through `run`'s carry and scripts/device-check.sh unpacks. The GPU
# machine has CUDA, cuDNN, cuBLAS, cuRAND (wheels) but none of our Debian -dev libraries. Also
# carries the real models and photos the GPU tests and benchmarks use, laid out like ../shared
# (shared/models, shared/images; device-check.sh exports PDA_SHARED_DIR to it).
#   scripts/device-build.sh            BUILD_DIR=build-device (default) JOBS=2 SHARED=../shared
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD_DIR:-build-device}
CARRY=.carry/device
LIMIT_MIB=60 # run's carry limit is 64 MiB for everything that travels

cmake -S . -B "$BUILD" -G Ninja -DPDA_WITH_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 -DPDA_BUILD_TESTS=ON \
    -DPDA_BUILD_BENCH=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C "$BUILD" -j"${JOBS:-2}" pda_cli pda_tests pda_bench

rm -rf "$CARRY"
mkdir -p "$CARRY/bin" "$CARRY/lib" "$CARRY/lib-cxx"
bins=("$BUILD/pda" "$BUILD/tests/pda_tests" "$BUILD/bench/pda_bench")
cp "${bins[@]}" "$CARRY/bin/"
strip --strip-unneeded "$CARRY"/bin/*

# Shared libraries by ldd, leaving out glibc and everything CUDA (the GPU machine brings its own).
# libstdc++/libgcc_s go to lib-cxx: device-check.sh uses them only if the system's are too old.
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libdl\.so|librt\.so|libpthread\.so|libcuda|libcudnn|libcublas|libcurand|libcudart|libnvrtc|libnvJitLink)'
ldd "${bins[@]}" | awk '/=>/ && $3 ~ /^\// {print $1, $3}' | sort -u | while read -r name path; do
    [[ $name =~ $skip ]] && continue
    if [[ $name =~ ^(libstdc\+\+|libgcc_s) ]]; then dest="$CARRY/lib-cxx"; else dest="$CARRY/lib"; fi
    cp -L "$path" "$dest/$name"
    strip --strip-unneeded "$dest/$name" 2>/dev/null || true
done
# oneDNN is ~40 MB: xz it (device-check.sh unpacks it to /tmp).
for f in "$CARRY"/lib/libdnnl*; do
    [[ -e $f ]] && xz -T2 -6 "$f"
done

# SqueezeNet 1.1 (Caffe and torchvision exports), the labels and three photos (~11 MiB).
SHARED=${SHARED:-../shared}
mkdir -p "$CARRY/shared/models" "$CARRY/shared/images"
for f in squeezenet1.1-caffe.onnx squeezenet1.1-caffe.json squeezenet1.1-torchvision.onnx \
    squeezenet1.1-torchvision.json imagenet-synset-words.txt; do
    cp "$SHARED/models/$f" "$CARRY/shared/models/"
done
cp "$SHARED/images/cat.png" "$SHARED/images/dog.jpg" "$SHARED/images/eagle.jpg" "$CARRY/shared/images/"
chmod -R u+w "$CARRY/shared"

# The newest GLIBCXX / GLIBC symbol versions the binaries and libraries ask for.
objdump -T "$CARRY"/bin/* "$CARRY"/lib/*.so* 2>/dev/null | grep -o 'GLIBCXX_[0-9.]*' | sort -uV | tail -1 \
    >"$CARRY/glibcxx-needed" || true
objdump -T "$CARRY"/bin/* "$CARRY"/lib/*.so* 2>/dev/null | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1 \
    >"$CARRY/glibc-needed" || true
git rev-parse --short HEAD >"$CARRY/commit" 2>/dev/null || echo unknown >"$CARRY/commit"
date -u +%Y-%m-%dT%H:%MZ >"$CARRY/built"

ls -la "$CARRY/bin" "$CARRY/lib" "$CARRY/lib-cxx" "$CARRY/shared"/*
size=$(du -sb "$CARRY" | cut -f1)
echo "carry: $CARRY = $((size / 1048576)) MiB ($size bytes); needs $(cat "$CARRY/glibc-needed") $(cat "$CARRY/glibcxx-needed")"
if ((size > LIMIT_MIB * 1048576)); then
    echo "carry too large (> $LIMIT_MIB MiB)" >&2
    exit 1
fi
