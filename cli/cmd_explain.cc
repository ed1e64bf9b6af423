// Placeholder: `pda explain` is being written.
#include "cli/common.h"

namespace pda::cli {

void add_explain(CLI::App&) {}

}  // namespace pda::cli
