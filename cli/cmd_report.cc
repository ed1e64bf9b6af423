// `pda report OUT...`: one self-contained HTML report of the results in one or more output folders
// (pda::write_report): an index of every input, a page per input, figure PNGs at the photo's
// resolution. Several folders: the runs of an input of the same name side by side.
#include <cstdio>

#include "cli/common.h"
#include "pda/report.h"

namespace pda::cli {

void add_report(CLI::App& app) {
    auto* cmd = app.add_subcommand(
        "report",
        "write an HTML report of explanations: OUT/report/index.html (every input with its top classes; sortable) "
        "and a page per input (its maps over the input with a threshold slider, opacity and a colour bar in bits "
        "of weight of evidence; hidden layers by channel, strongest first; volumes in three linked slice views), "
        "with figure-<class>.png per map at the photo's resolution. It opens from disk in any browser, offline: "
        "its script and style are inline, its pictures beside it. Several OUT folders: the runs of each input are "
        "shown side by side (the report goes to the first one's report/ unless --out names another folder).");
    auto opt = std::make_shared<ReportOptions>();
    auto quiet = std::make_shared<bool>(false);
    cmd->add_option("OUT", opt->runs, "result folders: a pda explain --out folder, or one result folder")->required();
    cmd->add_option("--out", opt->out, "the report folder (default: the first OUT's report/)");
    cmd->add_option("--threshold", opt->threshold,
                    "fraction of a map's max |value| under which relevance is not drawn: the slider's start and the "
                    "figures' cut")
        ->capture_default_str();
    cmd->add_flag("--shared-scale", opt->shared_scale, "open comparisons with one colour scale across the runs");
    cmd->add_option("--channels", opt->max_channels, "hidden layers: the strongest channels shown per node")
        ->check(at_least(0))
        ->capture_default_str();
    cmd->add_option("--classes", opt->max_classes,
                    "explained classes shown and drawn as figures per input, the most probable first (a run of "
                    "--classes all explains every class)")
        ->check(at_least(1))
        ->capture_default_str();
    cmd->add_option("--figure-max-side", opt->figure_max_side,
                    "figures of photos larger than this many pixels a side are drawn shrunk to it")
        ->check(at_least(64))
        ->capture_default_str();
    cmd->add_flag("--quiet", *quiet, "print nothing on success");
    cmd->callback([opt, quiet] {
        const ReportSummary r = write_report(*opt);
        if (!*quiet)
            std::printf("%s: %lld inputs, %lld run%s, %lld figures\n", r.index.c_str(), static_cast<long long>(r.items),
                        static_cast<long long>(r.runs), r.runs == 1 ? "" : "s", static_cast<long long>(r.figures));
    });
}

}  // namespace pda::cli
