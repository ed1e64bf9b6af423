# Instrumented builds, each in its own build folder (the Makefile's `sanitize` and `fuzz-smoke`):
#   PDA_SANITIZE  ASan + UBSan for the whole tree (the unit tests' lane, build-san); gcc or clang.
#   PDA_FUZZ      libFuzzer targets (fuzz/, build-fuzz); clang only. The library code is compiled
#                 with coverage instrumentation (fuzzer-no-link) and the sanitizers; the targets add
#                 the libFuzzer driver.
# Both abort on the first undefined behaviour (-fno-sanitize-recover), so a report is a failure, not a
# line in a log. System libraries (oneDNN, protobuf, libpng, libjpeg) stay uninstrumented.
option(PDA_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
option(PDA_FUZZ "Build the libFuzzer targets of fuzz/ (clang; implies the sanitizers)" OFF)

# _GLIBCXX_ASSERTIONS: libstdc++'s bounds checks (operator[] of vector, string, array), which see an
# index past the size inside a vector's capacity, where ASan sees nothing.
set(PDA_SANITIZER_FLAGS -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
                        -D_GLIBCXX_ASSERTIONS)
# GCC 12 at -O1 with ASan reports -Wmaybe-uninitialized inside libstdc++'s <regex> and <functional>
# (its instrumentation hides the initialisation); with PDA_WERROR that would stop the lane, so it stays
# a warning there. The Release build keeps the warning an error.
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    list(APPEND PDA_SANITIZER_FLAGS -Wno-error=maybe-uninitialized)
endif()
# Clang at -O1 under instrumentation does not vectorise the `omp simd` loops and says so
# (-Wpass-failed); speed is not what these builds are for.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    list(APPEND PDA_SANITIZER_FLAGS -Wno-pass-failed)
endif()
if(PDA_FUZZ)
    if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
        message(FATAL_ERROR "PDA_FUZZ=ON needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++ "
                            "-DCMAKE_C_COMPILER=clang")
    endif()
    add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:-fsanitize=fuzzer-no-link;${PDA_SANITIZER_FLAGS}>")
    add_link_options(-fsanitize=address,undefined)
    message(STATUS "pda: libFuzzer targets ON (fuzz/)")
elseif(PDA_SANITIZE)
    add_compile_options("$<$<COMPILE_LANGUAGE:C,CXX>:${PDA_SANITIZER_FLAGS}>")
    add_link_options(-fsanitize=address,undefined)
    message(STATUS "pda: AddressSanitizer + UndefinedBehaviorSanitizer ON")
endif()
