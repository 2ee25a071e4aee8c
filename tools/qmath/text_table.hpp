// SPDX-License-Identifier: Apache-2.0
// tools/qmath/text_table.hpp: a tiny aligned plain-text table for the qmath command-line tool.
#pragma once

#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace qmath_tool {

/// Columns of text, padded to the widest cell. Text columns are left-aligned and number columns
/// right-aligned, so that digits line up. An empty row prints as a blank line (to group rows).
class TextTable {
 public:
  enum class align { left, right };
  struct Column {
    std::string title;
    align alignment;
  };

  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}

  void add_row(std::vector<std::string> cells) {
    cells.resize(cells.empty() ? 0 : columns_.size());
    rows_.push_back(std::move(cells));
  }
  void add_blank_row() { rows_.emplace_back(); }

  void print(std::FILE* out) const {
    std::vector<std::size_t> widths;
    for (const Column& column : columns_) widths.push_back(column.title.size());
    for (const auto& row : rows_)
      for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());

    std::vector<std::string> titles, rules;
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      titles.push_back(columns_[i].title);
      rules.push_back(std::string(widths[i], '-'));
    }
    print_row(out, titles, widths);
    print_row(out, rules, widths);
    for (const auto& row : rows_) print_row(out, row, widths);
  }

 private:
  void print_row(std::FILE* out, const std::vector<std::string>& cells, const std::vector<std::size_t>& widths) const {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const std::string padding(widths[i] - cells[i].size(), ' ');
      if (i > 0) line += "  ";
      line += columns_[i].alignment == align::left ? cells[i] + padding : padding + cells[i];
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();  // no trailing blanks
    std::fprintf(out, "%s\n", line.c_str());
  }

  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace qmath_tool
