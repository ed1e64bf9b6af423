// PDA_CHECK(cond, msg): an internal invariant; throws pda::Error (internal kind) naming file:line.
// Private to the library: the public headers (include/pda/) carry no macros of ours.
#pragma once

#include <string>

#include "pda/error.h"

#define PDA_CHECK(cond, msg)                                                                                      \
    do {                                                                                                          \
        if (!(cond)) ::pda::fail_internal(std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + (msg)); \
    } while (0)
