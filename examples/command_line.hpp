// SPDX-License-Identifier: Apache-2.0
// examples/command_line.hpp: the option parser shared by the qmath tool's subcommands.
#pragma once

#include <initializer_list>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "json_params.hpp"

namespace qmath_cli {

/// The arguments of one subcommand: positional ones, `--name value` (or `--name=value`) options, and flags.
struct CommandLine {
  std::vector<std::string> positional;
  std::map<std::string, std::string> values;
  std::set<std::string> flags;
  bool help = false;

  bool has(const std::string& name) const { return values.count(name) > 0 || flags.count(name) > 0; }
  std::string value_or(const std::string& name, const std::string& fallback) const {
    const auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
};

inline CommandLine parse_command_line(int argc, char** argv, const std::string& subcommand,
                               std::initializer_list<const char*> value_options,
                               std::initializer_list<const char*> flag_options) {
  const auto listed = [](std::initializer_list<const char*> names, const std::string& name) {
    for (const char* n : names)
      if (name == n) return true;
    return false;
  };
  CommandLine cl;
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      cl.help = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      cl.positional.push_back(arg);
      continue;
    }
    const std::size_t equals = arg.find('=');
    const std::string name = arg.substr(0, equals);
    if (cl.has(name)) throw cli_error(subcommand + ": " + name + " is given twice");
    if (listed(flag_options, name)) {
      if (equals != std::string::npos) throw cli_error(subcommand + ": " + name + " takes no value");
      cl.flags.insert(name);
    } else if (listed(value_options, name)) {
      if (equals != std::string::npos) {
        cl.values[name] = arg.substr(equals + 1);
      } else {
        if (i + 1 >= argc) throw cli_error(subcommand + ": " + name + " needs a value");
        cl.values[name] = argv[++i];
      }
    } else {
      throw cli_error(subcommand + ": unknown option '" + arg + "' (see `qmath help`)");
    }
  }
  return cl;
}

}  // namespace qmath_cli
