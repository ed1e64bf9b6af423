// pda::Error, the one exception type of the library. Its kind says whose fault it is: the caller's
// input (bad file, bad flag, unsupported model; the CLI exits 2) or pda's own (exits 1).
#pragma once

#include <stdexcept>
#include <string>

#include "pda/export.h"

namespace pda {

enum class ErrorKind {
    kInput,     // bad usage, bad file, unsupported model: the user can fix it
    kInternal,  // a broken invariant or a failing library call
};

class PDA_API Error : public std::runtime_error {
  public:
    Error(ErrorKind kind, const std::string& what) : std::runtime_error(what), kind_(kind) {}
    ErrorKind kind() const { return kind_; }

  private:
    ErrorKind kind_;
};

// Throws an input error; use for everything a user can cause.
[[noreturn]] inline void fail_input(const std::string& what) { throw Error(ErrorKind::kInput, what); }
// Throws an internal error; use for broken invariants.
[[noreturn]] inline void fail_internal(const std::string& what) { throw Error(ErrorKind::kInternal, what); }

}  // namespace pda
