// Placeholder: `pda bench` is being written.
#include "cli/common.h"

namespace pda::cli {

void add_bench(CLI::App&) {}

}  // namespace pda::cli
