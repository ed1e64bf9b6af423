// Placeholder: `pda fit-sampler` is being written.
#include "cli/common.h"

namespace pda::cli {

void add_fit_sampler(CLI::App&) {}

}  // namespace pda::cli
