// A one-line progress bar on stderr for long explanations: windows done, windows/s, resampled
// images/s and ETA. Drawn only when stderr is a terminal and the user did not ask for --quiet, so
// logs and pipes never fill with carriage returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pda::cli {

class ProgressBar {
  public:
    // enabled: the caller's wish (not --quiet); the bar also stays off when stderr is not a tty.
    ProgressBar(bool enabled, std::string label, int64_t samples_per_window);
    ~ProgressBar();
    // Windows done of total; redrawn at most ~10 times a second (and always at the end).
    void update(int64_t done, int64_t total);
    // Ends the line (if anything was drawn).
    void finish();
    bool active() const { return enabled_; }

  private:
    bool enabled_;
    bool drawn_ = false, started_ = false;
    int64_t first_ = 0;
    std::string label_;
    int64_t samples_;
    std::chrono::steady_clock::time_point start_, last_;
};

// "1:02:03" / "2:03" for a duration in seconds; "--:--" when unknown.
std::string format_eta(double seconds);

}  // namespace pda::cli
