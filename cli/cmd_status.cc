// `pda status OUT`: how far a dataset job is, across its shards: inputs done, failed and remaining,
// from the job manifests (OUT/job.json, OUT/job-<i>-of-<n>.json), the results and OUT/failures.jsonl.
#include <cstdio>

#include "cli/common.h"
#include "pda/job.h"

namespace pda::cli {

void add_status(CLI::App& app) {
    auto* cmd = app.add_subcommand("status",
                                   "how far the dataset job in OUT is, across shards: inputs done (a complete result "
                                   "with the job's parameters), failed (OUT/failures.jsonl) and remaining");
    auto out = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    cmd->add_option("OUT", *out, "the job's output folder")->required();
    cmd->add_flag("--json", *json, "print one JSON object");
    cmd->callback([out, json] {
        const JobStatus st = job_status(*out);
        if (*json) {
            std::printf("{\"inputs\": %lld, \"done\": %lld, \"failed\": %lld, \"remaining\": %lld}\n",
                        static_cast<long long>(st.inputs), static_cast<long long>(st.done),
                        static_cast<long long>(st.failed), static_cast<long long>(st.remaining));
            return;
        }
        std::printf("%s: %lld inputs: %lld done, %lld failed, %lld remaining\n", out->c_str(),
                    static_cast<long long>(st.inputs), static_cast<long long>(st.done),
                    static_cast<long long>(st.failed), static_cast<long long>(st.remaining));
        for (const std::string& s : st.shards) std::printf("  shard %s\n", s.c_str());
        for (const std::string& p : st.failed_paths) std::printf("  failed: %s\n", p.c_str());
    });
}

}  // namespace pda::cli
