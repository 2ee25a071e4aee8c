// SPDX-License-Identifier: Apache-2.0
// tools/qmath/tool.hpp: what the qmath tool's subcommands share: the error type, file-name helpers, the rule that
// no output may be one of the inputs, and outputs written under a temporary name and renamed only once every
// output of a run is complete (a failed run leaves none of them behind).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>

namespace qmath_tool {

/// A bad command line or input file: main() prints "qmath: <message>" and exits with status 2.
class cli_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// printf-style formatting into a std::string.
template <class... Args>
std::string format(const char* pattern, Args... args) {
  const int n = std::snprintf(nullptr, 0, pattern, args...);
  std::string out(static_cast<std::size_t>(n > 0 ? n : 0), '\0');
  if (n > 0) std::snprintf(out.data(), out.size() + 1, pattern, args...);
  return out;
}

inline bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

inline std::string base_name(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

inline std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string text = "[";
  for (std::size_t k = 0; k < dims.size(); ++k) text += (k ? ", " : "") + std::to_string(dims[k]);
  return text + "]";
}

/// Best time of a few runs of `work`: the minimum is the least disturbed by other processes. Stops after `max_runs`
/// or once `budget_s` seconds are spent, so that a slow (scalar or emulated) path stays bearable.
template <class Work>
double best_seconds(Work&& work, int max_runs = 3, double budget_s = 0.05) {
  using clock = std::chrono::steady_clock;
  double best = std::numeric_limits<double>::infinity(), spent = 0;
  for (int run = 0; run < max_runs && spent < budget_s; ++run) {
    const auto start = clock::now();
    work();
    const double seconds = std::chrono::duration<double>(clock::now() - start).count();
    best = std::min(best, seconds);
    spent += seconds;
  }
  return best;
}

/// True when both names reach the same file (also through links or "./"), or would once created.
inline bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(a, ec) && fs::exists(b, ec)) return fs::equivalent(a, b, ec);
  const fs::path ca = fs::weakly_canonical(a, ec), cb = fs::weakly_canonical(b, ec);
  return ec ? a == b : ca == cb;
}

/// Refuses a run whose outputs overwrite one of its inputs or each other (`what` names each path for the message).
inline void check_outputs(const std::vector<std::pair<std::string, std::string>>& inputs,
                          const std::vector<std::pair<std::string, std::string>>& outputs) {
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    for (const auto& in : inputs)
      if (same_file(outputs[i].second, in.second))
        throw cli_error(outputs[i].first + " '" + outputs[i].second + "' is the " + in.first +
                        ": refusing to overwrite an input");
    for (std::size_t j = 0; j < i; ++j)
      if (same_file(outputs[i].second, outputs[j].second))
        throw cli_error(outputs[i].first + " and " + outputs[j].first + " are the same file '" + outputs[i].second + "'");
  }
}

/// Refuses a directory where a file is to be read (an ifstream would open it and fail later without the name).
inline void check_readable_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw cli_error(what + " '" + path + "' is a directory, not a file");
}

/// The outputs of one run: each is written to "<path>.qmath-tmp" by its writer, and commit() renames them all
/// into place. A run that throws before commit() removes the temporaries, so no partial output survives.
class Outputs {
 public:
  Outputs() = default;
  Outputs(const Outputs&) = delete;
  Outputs& operator=(const Outputs&) = delete;
  ~Outputs() {
    std::error_code ec;
    for (const auto& p : pending_) std::filesystem::remove(p.first, ec);
  }

  /// Writes one output now, under its temporary name. @throws whatever write throws (the file is cleaned up).
  void write(const std::string& path, const std::function<void(const std::string& temporary)>& writer) {
    const std::string temporary = path + ".qmath-tmp";
    pending_.emplace_back(temporary, path);
    try {
      writer(temporary);
    } catch (const std::exception& e) {  // name the file the user asked for, not the temporary
      std::string message = e.what();
      for (std::size_t at = message.find(temporary); at != std::string::npos; at = message.find(temporary, at + path.size()))
        message.replace(at, temporary.size(), path);
      throw cli_error(message);
    }
  }

  /// Moves every written output into place.
  void commit() {
    for (const auto& p : pending_) {
      std::error_code ec;
      std::filesystem::rename(p.first, p.second, ec);
      if (ec) throw cli_error("cannot move the output into place at '" + p.second + "': " + ec.message());
    }
    pending_.clear();
  }

 private:
  std::vector<std::pair<std::string, std::string>> pending_;  // temporary, final
};

/// The exit status a subcommand leaves for main() (diff: 1 when above tolerance).
struct RunState {
  int status = 0;
};

// Each subcommand's file adds its options to the app and a callback that runs it.
void add_formats(CLI::App& app, RunState& state);
void add_quantize(CLI::App& app, RunState& state);
void add_dequantize(CLI::App& app, RunState& state);
void add_diff(CLI::App& app, RunState& state);
void add_compare(CLI::App& app, RunState& state);
void add_compress(CLI::App& app, RunState& state);
int run_format_tour();

}  // namespace qmath_tool
