// The report's pieces below write_report (include/pda/report.h): one input's page (its data, figures
// and thumbnail) and the HTML page around the data, shared by the index and the input pages.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "pda/report.h"

namespace pda {

// One result of one run: its folder and its summary.json.
struct ReportResult {
    int run = 0;
    std::filesystem::path dir;
    nlohmann::json summary;
};

// One input: its name (the result folder's path under the run) and its results, in run order.
struct ReportItem {
    std::string name;
    bool volume = false;
    std::vector<ReportResult> results;
};

struct ReportPage {
    nlohmann::json data;   // what the page's script shows
    nlohmann::json entry;  // its line of the index
    int64_t figures = 0;
};

// Reads the item's maps, writes its figures and thumb.png into `folder` and returns the page's data.
// `labels` names the runs. Input error naming the file for a missing, unreadable or inconsistent map.
ReportPage build_report_page(const ReportItem& item, const std::vector<std::string>& labels,
                             const std::filesystem::path& folder, const ReportOptions& opt);

// The self-contained HTML page: the report's style and script inline, `data` as JSON in it.
std::string report_html(const std::string& title, const nlohmann::json& data);

std::string base64(const uint8_t* bytes, size_t n);

}  // namespace pda
