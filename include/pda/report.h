// Reports: one self-contained HTML report of the results in one or more output folders (a dataset
// job's OUT, or single result folders), for looking at explanations in a browser without a server
// or network: an index of every explained image and volume (top classes, sortable, thumbnails
// loaded lazily), a page per input with its maps over the input (threshold, opacity, colour bar in
// the map's units), several runs of one input side by side, hidden layers' maps by channel and
// volumes in three linked slice views; and figure PNGs of each map at the photo's resolution.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pda/export.h"

namespace pda {

struct ReportOptions {
    // Result folders: each a job's OUT (searched for results: folders holding summary.json) or one
    // result folder. Inputs of equal name in several runs are compared on one page.
    std::vector<std::string> runs;
    std::string out;             // the report folder; empty: runs[0]/report
    float threshold = 0.15f;     // fraction of max |value|: the slider's start and the figures' cut
    bool shared_scale = false;   // comparisons open with one colour scale across the runs
    int max_channels = 32;       // hidden layers: the strongest channels shown per node
    int max_classes = 16;        // explained classes shown (and drawn as figures) per input: the most probable
    int figure_max_side = 4096;  // figures: photos larger than this are drawn shrunk to it
};

struct ReportSummary {
    std::string index;  // the index page's path
    int64_t items = 0;  // inputs (pages)
    int64_t runs = 0;
    int64_t figures = 0;  // figure PNGs written
};

// Writes the report folder: index.html, <name>/index.html per input with its figure-<class>.png
// and thumb.png, report.json. It is written under a temporary name beside `out` and moved into place
// in one step (an older report there is replaced; anything else there is refused). Input error (one
// line, nothing written) for a run that is not a folder or holds no result, a result whose
// summary.json or maps are missing, unreadable or inconsistent, an image in one run and a volume in
// another under one name, or bad options.
PDA_API ReportSummary write_report(const ReportOptions& options);

}  // namespace pda
