// write_report (include/pda/report.h): finds the results of each run, groups them by input name,
// writes every input's page and the index into a temporary folder beside the report's place and
// moves it there in one step, as result folders are (api/explain_output.cc): a reader never sees
// half a report, and a failed or interrupted report leaves the previous one as it was.
#include "api/report.h"

#include <fcntl.h>
#include <stdio.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <map>

#include "api/explain_output.h"
#include "api/interrupts.h"
#include "pda/error.h"
#include "pda/pda.h"
#include "report_assets.h"

namespace fs = std::filesystem;

namespace pda {
namespace {

nlohmann::json read_summary(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) fail_input(path.string() + ": cannot read");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
        fail_input(path.string() + ": not valid JSON (" + std::string(e.what()).substr(0, 120) + ")");
    }
    const bool image = j.contains("image") && j["image"].is_object(), volume = j.contains("volume");
    if (!j.is_object() || !(image || volume) || !j.contains("classes") || !j["classes"].is_array() ||
        !j.contains("relevance") || !j["relevance"].is_object() || !j["relevance"].contains("file"))
        fail_input(path.string() + ": not the summary.json of a pda result (no image or volume, classes, relevance)");
    return j;
}

// The results under one run folder: the folder itself when it is a result, else every folder below
// it holding a summary.json (hidden ones, temporary results, and the report being written skipped).
std::vector<std::pair<std::string, ReportResult>> find_results(const std::string& run, int index,
                                                               const fs::path& skip) {
    std::error_code ec;
    if (!fs::is_directory(run, ec)) fail_input(run + ": not a folder (give a pda explain --out folder)");
    std::vector<std::pair<std::string, ReportResult>> out;
    const fs::path root = fs::absolute(run).lexically_normal();
    auto add = [&](const fs::path& dir, const std::string& name) {
        out.push_back({name, ReportResult{index, dir, read_summary(dir / "summary.json")}});
    };
    if (fs::exists(root / "summary.json")) {
        add(root, root.filename().string());
        return out;
    }
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) fail_input(run + ": cannot read the folder: " + ec.message());
    for (; it != end; it.increment(ec)) {
        if (ec) fail_input(run + ": cannot read the folder: " + ec.message());
        if (!it->is_directory(ec)) continue;
        const fs::path p = it->path();
        if (p.filename().string().front() == '.' || p.lexically_normal() == skip) {
            it.disable_recursion_pending();
            continue;
        }
        if (fs::exists(p / "summary.json")) {
            add(p, p.lexically_relative(root).generic_string());
            it.disable_recursion_pending();
        }
    }
    if (out.empty())
        fail_input(run +
                   ": no results in it (no summary.json in it or in a folder below it; give a pda explain --out "
                   "folder)");
    return out;
}

// "1: runs/k10 (conditional, k 10, 10 samples, stride 1, squeezenet1.1.onnx)"
std::string run_label(size_t i, const std::string& run, const nlohmann::json& s) {
    const nlohmann::json& p = s.value("parameters", nlohmann::json::object());
    std::string spec = s.contains("model") ? s["model"].value("spec", "") : "";
    spec = fs::path(spec).filename().string();
    auto num = [&](const char* k) { return p.contains(k) ? p[k].dump() : std::string("?"); };
    return std::to_string(i + 1) + ": " + run + " (" + p.value("sampler", "?") + ", k " + num("k") + ", " +
           num(p.contains("samples_per_window") ? "samples_per_window" : "samples") + " samples, stride " +
           num("stride") + (spec.empty() ? "" : ", " + spec) + ")";
}

std::string folder_name(const std::string& folder) {  // "runs/val/" → "val"
    fs::path p = fs::absolute(folder).lexically_normal();
    if (p.filename().empty()) p = p.parent_path();
    return p.filename().string();
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '&')
            out += "&amp;";
        else if (c == '<')
            out += "&lt;";
        else if (c == '>')
            out += "&gt;";
        else if (c == '"')
            out += "&quot;";
        else
            out += c;
    }
    return out;
}

void check_report_options(const ReportOptions& o) {
    if (o.runs.empty()) fail_input("report: no result folders given");
    if (!(o.threshold >= 0.f && o.threshold <= 1.f))
        fail_input("report: --threshold must lie in [0, 1] (a fraction of max |value|), got " +
                   std::to_string(o.threshold));
    if (o.max_classes < 1) fail_input("report: --classes must be ≥ 1, got " + std::to_string(o.max_classes));
    if (o.max_channels < 0) fail_input("report: --channels must be ≥ 0, got " + std::to_string(o.max_channels));
    if (o.figure_max_side < 64)
        fail_input("report: the figures' largest side must be ≥ 64, got " + std::to_string(o.figure_max_side));
}

}  // namespace

std::string report_html(const std::string& title, const nlohmann::json& data) {
    std::string json = data.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    // Inside <script>, "</" could end the element: JSON lets it be written "<\/".
    for (size_t at = 0; (at = json.find("</", at)) != std::string::npos; at += 3) json.replace(at, 2, "<\\/");
    const std::map<std::string, std::string> fields = {
        {"TITLE", html_escape(title)}, {"STYLE", kReportCss}, {"DATA", json}, {"SCRIPT", kReportJs}};
    // One pass over the template, so that a value holding "{{...}}" is never expanded itself.
    const std::string tpl = kReportHtml;
    std::string html;
    size_t at = 0;
    for (size_t open; (open = tpl.find("{{", at)) != std::string::npos;) {
        const size_t close = tpl.find("}}", open);
        const auto it = fields.find(tpl.substr(open + 2, close - open - 2));
        if (close == std::string::npos || it == fields.end()) fail_internal("report template: a bad {{field}}");
        html.append(tpl, at, open - at).append(it->second);
        at = close + 2;
    }
    return html.append(tpl, at, std::string::npos);
}

ReportSummary write_report(const ReportOptions& opt) {
    check_report_options(opt);
    const fs::path out =
        fs::absolute(opt.out.empty() ? fs::path(opt.runs.front()) / "report" : fs::path(opt.out)).lexically_normal();
    std::error_code ec;
    if (fs::exists(fs::symlink_status(out, ec)) &&
        (!fs::is_directory(fs::symlink_status(out, ec)) || !fs::exists(out / "report.json")))
        fail_input(out.string() + ": exists and is not a pda report; name another folder with --out");

    // Every input, by name, with its result in each run.
    std::map<std::string, ReportItem> items;
    std::vector<std::string> labels;
    for (size_t i = 0; i < opt.runs.size(); ++i) {
        const auto found = find_results(opt.runs[i], static_cast<int>(i), out);
        labels.push_back(run_label(i, opt.runs[i], found.front().second.summary));
        for (const auto& [name, result] : found) {
            ReportItem& item = items[name];
            const bool volume = result.summary.contains("volume");
            if (!item.results.empty() && item.volume != volume)
                fail_input(name + ": an image in one run and a volume in another");
            if (!item.results.empty() && item.results.back().run == result.run)
                fail_input(name + ": two results of that name in " + opt.runs[i]);
            item.name = name;
            item.volume = volume;
            item.results.push_back(result);
        }
    }

    const fs::path parent = out.parent_path();
    fs::create_directories(parent, ec);
    if (ec) fail_input(parent.string() + ": cannot create the folder: " + ec.message());
    sweep_stale_results(parent.string());
    const fs::path tmp = parent / temp_result_name(out.filename().string(), "tmp");
    fs::remove_all(tmp, ec);
    if (!fs::create_directory(tmp, ec) || ec)
        fail_input(tmp.string() + ": cannot create the folder: " + (ec ? ec.message() : "exists"));
    DirGuard guard{tmp};

    ReportSummary summary;
    summary.runs = static_cast<int64_t>(opt.runs.size());
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& [name, item] : items) {
        if (interrupt_requested()) fail_input("interrupted");
        const fs::path folder = tmp / "pages" / name;
        fs::create_directories(folder, ec);
        if (ec) fail_input(folder.string() + ": cannot create the folder: " + ec.message());
        ReportPage page = build_report_page(item, labels, folder, opt);
        // Links back to the index from pages/<name>/: one "../" per folder of the name, and pages/.
        std::string up = "../";
        for (char c : name) up += c == '/' ? "../" : "";
        page.data["index"] = up + "index.html";
        page.data["runs_labels"] = labels;
        write_text(folder / "index.html", report_html(name + " — pda report", page.data));
        entries.push_back(page.entry);
        summary.figures += page.figures;
        ++summary.items;
    }
    nlohmann::json index = {{"kind", "index"},   {"title", "pda report: " + folder_name(opt.runs.front())},
                            {"runs", labels},    {"items", entries},
                            {"date", utc_now()}, {"version", version()}};
    write_text(tmp / "index.html", report_html("pda report", index));
    write_text(tmp / "report.json", nlohmann::json{{"runs", opt.runs},
                                                   {"items", summary.items},
                                                   {"threshold", opt.threshold},
                                                   {"shared_scale", opt.shared_scale},
                                                   {"date", utc_now()},
                                                   {"version", version()}}
                                            .dump(2) +
                                        "\n");

    // Into place in one step: exchanged with an older report (then removed with the guard), or renamed.
    if (fs::exists(out)) {
        if (renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, out.c_str(), RENAME_EXCHANGE) != 0) {
            if (errno != EINVAL && errno != ENOSYS)
                fail_input(out.string() + ": cannot replace: " + std::strerror(errno));
            const fs::path old = parent / temp_result_name(out.filename().string(), "old");
            fs::remove_all(old, ec);
            fs::rename(out, old, ec);
            if (ec) fail_input(out.string() + ": cannot move the old report aside: " + ec.message());
            fs::rename(tmp, out, ec);
            if (ec) fail_input(out.string() + ": cannot move the report into place: " + ec.message());
            guard.path = old;
        }
    } else {
        fs::rename(tmp, out, ec);
        if (ec) fail_input(out.string() + ": cannot move the report into place: " + ec.message());
        guard.armed = false;
    }
    summary.index = (out / "index.html").string();
    return summary;
}

}  // namespace pda
