// SPDX-License-Identifier: Apache-2.0
// tools/qmath/compare/chart.cpp: the SVG chart of `qmath compare --chart`. Top: SQNR against bits per element (log
// axis), every format at its true width, each series' Pareto front (no format with fewer or as many bits is more
// accurate) joined and numbered. Bottom: a heat map, one row per format and one column per series, the SQNR in
// each cell, so that any format can be read against any other without hunting for its point.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "compare/compare.hpp"
#include "tool.hpp"

namespace qmath_tool {
namespace compare {
namespace {

std::string xml_text(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

bool plottable(const Row& r) { return r.note.empty() && std::isfinite(r.error.sqnr_db) && r.bits_per_element() > 0; }

// Red (poor) through yellow to green (good), by SQNR: 0 dB and below red, 25 dB yellow, 50 dB and above green.
std::string heat_colour(double db) {
  const double t = std::min(std::max(db / 50.0, 0.0), 1.0);
  const double stops[3][3] = {{215, 48, 39}, {254, 224, 139}, {26, 152, 80}};
  const int k = t < 0.5 ? 0 : 1;
  const double u = t < 0.5 ? t * 2.0 : (t - 0.5) * 2.0;
  int rgb[3];
  for (int c = 0; c < 3; ++c) rgb[c] = static_cast<int>(std::lround(stops[k][c] + (stops[k + 1][c] - stops[k][c]) * u));
  return format("#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

}  // namespace

void write_svg_chart(const std::string& path, const std::vector<Series>& series) {
  if (series.empty()) return;
  const std::vector<Row>& formats = series.front().second;
  static const char* const kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};
  const std::size_t colours = sizeof(kColours) / sizeof(kColours[0]);
  const std::size_t columns = std::min<std::size_t>(series.size(), 8);  // the heat map's series columns
  const double left = 70, top = 44, plot_w = 620, plot_h = 340, key_x = left + plot_w + 30;
  const double row_h = 16, name_w = 450, cell_w = 104;
  const double heat_top = top + plot_h + 80;
  const double width = std::max(key_x + 260, left + 40 + name_w + 60 + cell_w * static_cast<double>(columns) + 20);
  const double height = heat_top + 34 + row_h * static_cast<double>(formats.size()) + 30;

  double max_db = 10, min_db = 0;
  for (const Series& s : series)
    for (const Row& r : s.second)
      if (plottable(r)) {
        max_db = std::max(max_db, r.error.sqnr_db);
        min_db = std::min(min_db, r.error.sqnr_db);
      }
  max_db = std::ceil(max_db / 10.0) * 10.0;
  min_db = std::floor(min_db / 10.0) * 10.0;
  const double log_lo = 0.0, log_hi = 5.0;  // 1 to 32 bits per element
  const auto x_of = [&](double bits) {
    return left + plot_w * (std::min(std::max(std::log2(bits), log_lo), log_hi) - log_lo) / (log_hi - log_lo);
  };
  const auto y_of = [&](double db) { return top + plot_h * (1.0 - (db - min_db) / (max_db - min_db)); };

  std::FILE* out = std::fopen(path.c_str(), "w");
  if (out == nullptr) throw cli_error("compare: cannot open '" + path + "' for writing the chart");
  std::fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" font-family=\"sans-serif\" "
                    "font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n", width, height);
  std::fprintf(out, "<text x=\"%.0f\" y=\"22\" font-size=\"15\">qmath compare: SQNR against bits per element (up and to "
                    "the left is better); numbers as in the table below</text>\n", left);
  for (double db = min_db; db <= max_db + 1e-9; db += 10) {
    std::fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", left, y_of(db), left + plot_w, y_of(db));
    std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", left - 6, y_of(db) + 4, db);
  }
  for (int bits = 1; bits <= 32; bits *= 2) {
    std::fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", x_of(bits), top, x_of(bits), top + plot_h);
    std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", x_of(bits), top + plot_h + 16, bits);
  }
  std::fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", left, top, plot_w, plot_h);
  std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">bits per element (log; codes + scales, zero points, "
                    "masks, positions)</text>\n", left + plot_w / 2, top + plot_h + 34);
  std::fprintf(out, "<text transform=\"translate(18 %.1f) rotate(-90)\" text-anchor=\"middle\">SQNR (dB)</text>\n", top + plot_h / 2);

  for (std::size_t s = 0; s < series.size(); ++s) {
    const char* colour = kColours[s % colours];
    const std::vector<Row>& rows = series[s].second;
    std::vector<std::size_t> order;
    for (std::size_t m = 0; m < rows.size(); ++m)
      if (plottable(rows[m])) order.push_back(m);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return rows[a].bits_per_element() < rows[b].bits_per_element() ||
             (rows[a].bits_per_element() == rows[b].bits_per_element() && rows[a].error.sqnr_db > rows[b].error.sqnr_db);
    });
    std::vector<std::size_t> front;
    double best = -std::numeric_limits<double>::infinity();
    for (std::size_t m : order)
      if (rows[m].error.sqnr_db > best) {
        best = rows[m].error.sqnr_db;
        front.push_back(m);
      }
    for (std::size_t m : order) {
      const bool on_front = std::find(front.begin(), front.end(), m) != front.end();
      std::fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\" stroke=\"%s\" fill-opacity=\"0.9\"><title>%s: %zu. %s, "
                        "%.2f dB at %.3f bits</title></circle>\n",
                   x_of(rows[m].bits_per_element()), y_of(rows[m].error.sqnr_db), on_front ? "3.5" : "2.5",
                   on_front ? colour : "white", colour, xml_text(series[s].first).c_str(), m + 1, xml_text(rows[m].method).c_str(),
                   rows[m].error.sqnr_db, rows[m].bits_per_element());
    }
    std::string d;
    for (std::size_t m : front)
      d += format("%s%.1f %.1f", d.empty() ? "M" : " L", x_of(rows[m].bits_per_element()), y_of(rows[m].error.sqnr_db));
    std::fprintf(out, "<path d=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\"/>\n", d.c_str(), colour);
    if (s == 0)  // number the first series' front (the others are read off the table)
      for (std::size_t m : front)
        std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" fill=\"#333\">%zu</text>\n",
                     x_of(rows[m].bits_per_element()) - 4, y_of(rows[m].error.sqnr_db) - 7, m + 1);
  }
  double y = top + 8;
  for (std::size_t s = 0; s < series.size(); ++s, y += 16)
    std::fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\">%s</text>\n", key_x, y,
                 kColours[s % colours], key_x + 10, y + 4, xml_text(series[s].first).c_str());
  std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">filled and joined: the Pareto front</text>\n", key_x - 5, y + 10);
  std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">(fewer bits and more SQNR than the rest)</text>\n", key_x - 5, y + 24);

  // Heat map.
  std::fprintf(out, "<text x=\"%.0f\" y=\"%.1f\" font-size=\"13\">SQNR (dB) of each format on each %s</text>\n", left,
               heat_top - 14, series.size() > 1 ? "series" : "tensor");
  const double name_x = left - 30, bits_x = name_x + name_w, cells_x = bits_x + 60;
  std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">format</text>", name_x, heat_top + 12);
  std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\" text-anchor=\"end\">bits</text>\n", bits_x + 40, heat_top + 12);
  for (std::size_t s = 0; s < columns; ++s) {
    std::string name = series[s].first;
    if (name.size() > 16) name = name.substr(0, 15) + "~";
    std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"%s\">%s</text>\n",
                 cells_x + cell_w * (static_cast<double>(s) + 0.5), heat_top + 12, kColours[s % colours], xml_text(name).c_str());
  }
  for (std::size_t m = 0; m < formats.size(); ++m) {
    const double ry = heat_top + 20 + row_h * static_cast<double>(m);
    std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\">%zu. %s</text>", name_x, ry + 12, m + 1, xml_text(formats[m].method).c_str());
    if (formats[m].note.empty())
      std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>", bits_x + 40, ry + 12, formats[m].bits_per_element());
    for (std::size_t s = 0; s < columns; ++s) {
      const double cx = cells_x + cell_w * static_cast<double>(s);
      if (m >= series[s].second.size()) continue;
      const Row& r = series[s].second[m];
      if (!r.note.empty()) {
        std::fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#eee\"/><text x=\"%.1f\" y=\"%.1f\" "
                          "text-anchor=\"middle\" fill=\"#888\">n/a<title>%s</title></text>",
                     cx + 1, ry + 1, cell_w - 2, row_h - 2, cx + cell_w / 2, ry + 12, xml_text(r.note).c_str());
        continue;
      }
      const double db = r.error.sqnr_db;
      std::fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" "
                        "text-anchor=\"middle\">%s</text>",
                   cx + 1, ry + 1, cell_w - 2, row_h - 2, std::isfinite(db) ? heat_colour(db).c_str() : "#1a9850", cx + cell_w / 2,
                   ry + 12, std::isfinite(db) ? format("%.1f", db).c_str() : (db > 0 ? "inf" : "-inf"));
    }
    std::fprintf(out, "\n");
  }
  if (series.size() > columns)
    std::fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" fill=\"#555\">(%zu more series in the table output)</text>\n", cells_x,
                 height - 10, series.size() - columns);
  std::fprintf(out, "</svg>\n");
  const bool failed = std::ferror(out) != 0;
  if (std::fclose(out) != 0 || failed) throw cli_error("compare: writing '" + path + "' failed");
}

}  // namespace compare
}  // namespace qmath_tool
