// SPDX-License-Identifier: Apache-2.0
// tools/qmath/compare/report.cpp: the rows of `qmath compare` as a text table, CSV or JSON (nlohmann).
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "compare/compare.hpp"
#include "text_table.hpp"
#include "tool.hpp"

namespace qmath_tool {
namespace compare {
namespace {

std::string number(double v, const char* pattern) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  return format(pattern, v);
}

}  // namespace

void print_table(const std::vector<Row>& rows, bool pooled, bool timing) {
  using align = TextTable::align;
  std::vector<TextTable::Column> columns{{"format", align::left},      {"bits/elem", align::right},
                                         {"bytes", align::right},      {"MSE", align::right},
                                         {"SQNR dB", align::right}};
  if (pooled) columns.push_back({"SQNR min..max", align::right});
  columns.insert(columns.end(), {{"max |err|", align::right}, {"clip %", align::right}});
  if (timing) columns.insert(columns.end(), {{"enc GB/s", align::right}, {"dec GB/s", align::right}});
  TextTable table(columns);
  for (const Row& r : rows) {
    if (!r.note.empty()) {
      table.add_row({r.method + " (failed: " + r.note + ")"});
      continue;
    }
    std::vector<std::string> cells{r.method, number(r.bits_per_element(), "%.3f"), std::to_string(r.bytes()),
                                   number(r.error.mse, "%.3e"), number(r.error.sqnr_db, "%.2f")};
    if (pooled) cells.push_back(number(r.min_sqnr_db, "%.1f") + ".." + number(r.max_sqnr_db, "%.1f"));
    cells.push_back(number(r.error.max_abs_error, "%.3e"));
    cells.push_back(r.clip_measured ? number(100.0 * r.error.clip_rate, "%.4f") : "");
    if (timing) {  // compression rows are not timed
      cells.push_back(r.encode_seconds > 0 ? number(r.encode_gbs(), "%.2f") : "");
      cells.push_back(r.decode_seconds > 0 ? number(r.decode_gbs(), "%.2f") : "");
    }
    table.add_row(cells);
  }
  table.print(stdout);
}

inline std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

void print_csv(const std::vector<Row>& rows) {
  std::printf("source,tensor,format,elements,bits_per_element,bytes,mse,sqnr_db,max_abs_error,max_rel_error,cosine,"
              "clip_rate,encode_gbs,decode_gbs,note\n");
  for (const Row& r : rows) {
    if (!r.note.empty()) {  // no numbers for a method that failed on this tensor
      std::printf("%s,%s,%s,,,,,,,,,,,,%s\n", csv_field(r.source).c_str(), csv_field(r.tensor).c_str(),
                  csv_field(r.method).c_str(), csv_field(r.note).c_str());
      continue;
    }
    std::printf("%s,%s,%s,%llu,%.6g,%llu,%.9g,%.6g,%.9g,%.9g,%.9g,%.9g,%.4g,%.4g,%s\n", csv_field(r.source).c_str(),
                csv_field(r.tensor).c_str(), csv_field(r.method).c_str(), static_cast<unsigned long long>(r.elements),
                r.bits_per_element(), static_cast<unsigned long long>(r.bytes()), r.error.mse, r.error.sqnr_db,
                r.error.max_abs_error, r.error.max_rel_error, r.error.cosine, r.error.clip_rate, r.encode_gbs(),
                r.decode_gbs(), csv_field(r.note).c_str());
  }
}

void print_json(const std::vector<Row>& rows) {
  // JSON has no infinity or NaN: those are written as null (SQNR +inf is an exact round trip, -inf or an infinite
  // MSE a non-finite approximation, NaN a tensor without finite values; the table shows which). Names that are not
  // UTF-8 (a file name is any bytes) get U+FFFD for each bad byte, so the output stays valid JSON.
  const auto number_or_null = [](double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); };
  // One row per line (compact JSON), so that line tools can pick rows.
  std::string text = "{\"rows\": [\n";
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const Row& r = rows[i];
    nlohmann::ordered_json j;
    j["source"] = r.source;
    j["tensor"] = r.tensor;
    j["format"] = r.method;
    if (r.note.empty()) {
      j["elements"] = r.elements;
      j["bits_per_element"] = number_or_null(r.bits_per_element());
      j["bytes"] = r.bytes();
      j["mse"] = number_or_null(r.error.mse);
      j["sqnr_db"] = number_or_null(r.error.sqnr_db);
      j["max_abs_error"] = number_or_null(r.error.max_abs_error);
      j["max_rel_error"] = number_or_null(r.error.max_rel_error);
      j["cosine"] = number_or_null(r.error.cosine);
      j["clip_rate"] = r.clip_measured ? number_or_null(r.error.clip_rate) : nlohmann::json(nullptr);
      j["encode_gbs"] = number_or_null(r.encode_gbs());
      j["decode_gbs"] = number_or_null(r.decode_gbs());
    } else {
      j["note"] = r.note;
    }
    text += "  " + j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + (i + 1 < rows.size() ? ",\n" : "\n");
  }
  std::printf("%s]}\n", text.c_str());
}

}  // namespace compare
}  // namespace qmath_tool
