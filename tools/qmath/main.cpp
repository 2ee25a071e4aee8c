// SPDX-License-Identifier: Apache-2.0
// tools/qmath/main.cpp: the qmath command-line tool. One file per subcommand adds itself to the CLI11 app:
//
//   qmath formats                      bits of a few values in every format, round-trip error and bulk speed
//   qmath quantize IN.npy OUT.npy      float32 tensor -> integer codes, plus a JSON file of the parameters
//   qmath dequantize IN.npy OUT.npy    integer codes -> float32, with those parameters
//   qmath compare [FILES]              every format / scheme / calibrator / compression on workloads or files
//   qmath compress MODEL -o OUT        pruning, low rank and mixed precision applied to a .safetensors file
//   qmath diff A.npy B.npy             max |a - b| of two float32 tensors (exit 1 above --tolerance)
//   qmath                              the formats tour, with a hint about the subcommands on stderr
// A bad command line or input prints one line `qmath: <message>` on stderr and exits with status 2; no output
// file is left behind by a run that fails (outputs are renamed into place at the end).
#include <cstdio>
#include <exception>
#include <string>

#include "tool.hpp"

int main(int argc, char** argv) {
  using namespace qmath_tool;
  CLI::App app{"qmath: quantization formats, schemes and compression on your tensors", "qmath"};
  app.require_subcommand(0, 1);
  app.footer("Errors print one line `qmath: <message>` on stderr and exit with status 2. `qmath SUBCOMMAND --help` for each.");
  RunState state;
  add_formats(app, state);
  add_quantize(app, state);
  add_dequantize(app, state);
  add_compare(app, state);
  add_compress(app, state);
  add_diff(app, state);
  CLI::App* help = app.add_subcommand("help", "this text");
  help->callback([&app] { std::printf("%s", app.help().c_str()); });
  try {
    app.parse(argc, argv);
    if (argc < 2) {
      std::fprintf(stderr, "qmath: no subcommand, running `qmath formats` (subcommands: formats, compare, compress, quantize, "
                           "dequantize, diff, help)\n");
      return run_format_tour();
    }
    return state.status;
  } catch (const CLI::CallForHelp&) {
    std::printf("%s", (app.get_subcommands().empty() ? app.help() : app.get_subcommands().front()->help()).c_str());
    return 0;
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "qmath: %s (see `qmath --help`)\n", e.what());
    return 2;
  } catch (const std::exception& e) {  // cli_error, qmath::error, std::bad_alloc: one line, status 2
    std::string message = e.what();
    for (char& c : message)
      if (c == '\n' || c == '\r') c = ' ';
    std::fprintf(stderr, "qmath: %s\n", message.c_str());
    return 2;
  }
}
