// Progress bar drawing: rates are averaged since the start of the image, which is steady enough for
// PDA's uniform batches and needs no smoothing state.
#include "cli/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace pda::cli {

std::string format_eta(double s) {
    if (!std::isfinite(s) || s < 0) return "--:--";
    long t = std::lround(s);
    char buf[32];
    if (t >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
    return buf;
}

ProgressBar::ProgressBar(bool enabled, std::string label, int64_t samples_per_window)
    : enabled_(enabled && isatty(STDERR_FILENO)),
      label_(std::move(label)),
      samples_(samples_per_window),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(int64_t done, int64_t total) {
    if (!enabled_ || total <= 0) return;
    auto now = std::chrono::steady_clock::now();
    if (!started_) {  // rates count from the first report, after compiling and the clean image
        started_ = true;
        start_ = now;
        first_ = done;
    }
    if (done < total && drawn_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    double el = std::chrono::duration<double>(now - start_).count();
    double rate = el > 0 ? (done - first_) / el : 0;
    double eta = rate > 0 ? (total - done) / rate : NAN;
    constexpr int kWidth = 28;
    int fill = static_cast<int>(kWidth * done / total);
    std::string bar(fill, '#');
    bar.append(kWidth - fill, '.');
    std::fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld windows  %.0f win/s  %.0f img/s  ETA %s\x1b[K", label_.c_str(),
                 bar.c_str(), static_cast<int>(100 * done / total), static_cast<long long>(done),
                 static_cast<long long>(total), rate, rate * samples_, format_eta(eta).c_str());
    std::fflush(stderr);
    drawn_ = true;
}

void ProgressBar::finish() {
    if (drawn_) std::fputc('\n', stderr);
    drawn_ = false;
}

}  // namespace pda::cli
