// SPDX-License-Identifier: Apache-2.0
// tools/qmath/codes.hpp: what `qmath quantize` and `qmath dequantize` share: the code types by name, 4-bit codes
// unpacked one per byte in a .npy, option lists of scales and zero points, and the granularity as given on the
// command line or in a parameters file.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "params_file.hpp"
#include "qmath/format/int_traits.hpp"
#include "qmath/io/npy.hpp"
#include "qmath/quant/choose.hpp"
#include "qmath/quant/qparams.hpp"
#include "tool.hpp"

namespace qmath_tool {

// The parameters file sits next to the .npy it belongs to: x.npy -> x.json.
inline std::string params_path_for(const std::string& npy_path) {
  const std::string suffix = ".npy";
  const bool has_suffix =
      npy_path.size() > suffix.size() && npy_path.compare(npy_path.size() - suffix.size(), suffix.size(), suffix) == 0;
  return (has_suffix ? npy_path.substr(0, npy_path.size() - suffix.size()) : npy_path) + ".json";
}

inline std::int64_t parse_integer(const std::string& text, const std::string& what) {
  std::int64_t value = 0;
  if (!json_detail::parse_int64(text, value)) throw cli_error("bad integer '" + text + "' for " + what);
  return value;
}

inline std::int32_t to_int32(std::int64_t value, const std::string& what) {
  if (value < std::numeric_limits<std::int32_t>::min() || value > std::numeric_limits<std::int32_t>::max())
    throw cli_error(what + " = " + std::to_string(value) + " is out of the int32 range");
  return static_cast<std::int32_t>(value);
}

inline std::vector<std::string> split_list(const std::string& text, const std::string& what) {
  std::vector<std::string> items;
  std::size_t begin = 0;
  for (;;) {
    const std::size_t comma = text.find(',', begin);
    items.push_back(text.substr(begin, comma == std::string::npos ? std::string::npos : comma - begin));
    if (items.back().empty()) throw cli_error("empty entry in the list '" + text + "' of " + what);
    if (comma == std::string::npos) return items;
    begin = comma + 1;
  }
}

inline std::vector<float> parse_scales(const std::string& text) {
  std::vector<float> scales;
  for (const std::string& item : split_list(text, "--scale")) {
    float value = 0;
    if (!json_detail::parse_finite_float(item, value))
      throw cli_error("bad number '" + item + "' in --scale (expected finite floats)");
    scales.push_back(value);
  }
  return scales;
}

inline std::vector<std::int64_t> parse_zero_points(const std::string& text) {
  std::vector<std::int64_t> zero_points;
  for (const std::string& item : split_list(text, "--zero-point"))
    zero_points.push_back(parse_integer(item, "--zero-point"));
  return zero_points;
}

inline qmath::profile parse_profile(const std::string& name, const std::string& where) {
  if (name == "pytorch") return qmath::profile::pytorch;
  if (name == "onnx") return qmath::profile::onnx;
  if (name == "tflite") return qmath::profile::tflite;
  throw cli_error("unknown profile '" + name + "' in " + where + " (pytorch, onnx or tflite)");
}

inline qmath::scheme parse_scheme(const std::string& name) {
  if (name == "affine") return qmath::scheme::affine;
  if (name == "symmetric") return qmath::scheme::symmetric;
  throw cli_error("unknown scheme '" + name + "' in --scheme (affine or symmetric)");
}

// ---- Code types -------------------------------------------------------------------------------------------

template <class Q>
struct CodeTag {
  using type = Q;
};

/// One code per element as the .npy holds it: 4-bit codes widen to int8 / uint8, the others are themselves.
template <class Q>
using unpacked_t = std::conditional_t<qmath::int_traits<Q>::kPacked,
                                      std::conditional_t<qmath::int_traits<Q>::kSigned, std::int8_t, std::uint8_t>, Q>;

inline const char* const kDtypeNames = "int8, uint8, int16, uint16, int32, int4 or uint4";

/// Calls visit(CodeTag<Q>{}) for the code type named `dtype`.
template <class Visitor>
void visit_code_type(const std::string& dtype, const std::string& where, Visitor&& visit) {
  if (dtype == "int8")
    visit(CodeTag<std::int8_t>{});
  else if (dtype == "uint8")
    visit(CodeTag<std::uint8_t>{});
  else if (dtype == "int16")
    visit(CodeTag<std::int16_t>{});
  else if (dtype == "uint16")
    visit(CodeTag<std::uint16_t>{});
  else if (dtype == "int32")
    visit(CodeTag<std::int32_t>{});
  else if (dtype == "int4")
    visit(CodeTag<qmath::int4>{});
  else if (dtype == "uint4")
    visit(CodeTag<qmath::uint4>{});
  else
    throw cli_error("unknown dtype '" + dtype + "' in " + where + " (" + kDtypeNames + ")");
}

/// The code type a .npy of codes holds, when nothing says it is 4-bit.
inline std::string code_type_of(const qmath::NpyArray& a, const std::string& path) {
  if (a.dtype == "|i1") return "int8";
  if (a.dtype == "|u1") return "uint8";
  if (a.dtype == "<i2") return "int16";
  if (a.dtype == "<u2") return "uint16";
  if (a.dtype == "<i4") return "int32";
  throw cli_error("'" + path + "' holds " + a.dtype + " data, not codes (int8, uint8, int16, uint16 or int32)");
}

template <class Q>
std::vector<unpacked_t<Q>> unpack_codes(const std::vector<typename qmath::int_traits<Q>::storage>& stored,
                                        std::size_t count) {
  if constexpr (!qmath::int_traits<Q>::kPacked) {
    return stored;
  } else {
    std::vector<unpacked_t<Q>> codes(count);
    for (std::size_t i = 0; i < count; ++i) {
      const unsigned nibble = (i % 2 == 0) ? (stored[i / 2] & 0x0Fu) : (stored[i / 2] >> 4);
      // Sign-extend for int4: nibble 8..15 is -8..-1.
      codes[i] = static_cast<unpacked_t<Q>>(qmath::int_traits<Q>::kSigned ? static_cast<int>(nibble ^ 8u) - 8
                                                                          : static_cast<int>(nibble));
    }
    return codes;
  }
}

template <class Q>
std::vector<typename qmath::int_traits<Q>::storage> pack_codes(const std::vector<unpacked_t<Q>>& codes,
                                                               const std::string& path) {
  if constexpr (!qmath::int_traits<Q>::kPacked) {
    (void)path;
    return codes;
  } else {
    std::vector<std::uint8_t> stored(qmath::int_traits<Q>::storage_size(codes.size()), 0);
    for (std::size_t i = 0; i < codes.size(); ++i) {
      const int code = codes[i];
      if (code < qmath::int_traits<Q>::kMin || code > qmath::int_traits<Q>::kMax)
        throw cli_error("'" + path + "': code " + std::to_string(code) + " at element " + std::to_string(i) +
                        " is outside the " + qmath::int_traits<Q>::kName + " range [" +
                        std::to_string(qmath::int_traits<Q>::kMin) + ", " + std::to_string(qmath::int_traits<Q>::kMax) +
                        "]");
      const unsigned nibble = static_cast<unsigned>(code) & 0x0Fu;
      stored[i / 2] = static_cast<std::uint8_t>(stored[i / 2] | (i % 2 == 0 ? nibble : nibble << 4));
    }
    return stored;
  }
}

// ---- Granularity --------------------------------------------------------------------------------------------

/// A granularity as given on the command line or in a parameters file, before it meets the tensor.
struct GranularitySpec {
  std::string kind = "tensor";
  std::int64_t axis = 0;
  bool axis_given = false;
  std::int64_t group_size = 0;
  bool group_size_given = false;
  std::string axis_name = "--axis", group_size_name = "--group-size";  ///< how messages call the fields
};

/// Checks the spec against a tensor of `rank` dims; the axis comes back normalized to [0, rank).
inline qmath::Granularity resolve_granularity(GranularitySpec& g, std::size_t rank, const std::string& tensor_path) {
  const bool per_tensor = g.kind == "tensor", per_channel = g.kind == "channel", per_group = g.kind == "group";
  if (!per_tensor && !per_channel && !per_group)
    throw cli_error("unknown granularity '" + g.kind + "' (tensor, channel or group)");
  if (per_tensor && g.axis_given) throw cli_error(g.axis_name + " needs granularity channel or group");
  if (!per_group && g.group_size_given) throw cli_error(g.group_size_name + " needs granularity group");
  if (per_tensor) return qmath::per_tensor();
  const auto r = static_cast<std::int64_t>(rank);
  if (g.axis < -r || g.axis >= r)
    throw cli_error(g.axis_name + " " + std::to_string(g.axis) + " is out of range for '" + tensor_path + "' of rank " +
                    std::to_string(rank) +
                    (rank == 0 ? std::string(" (a 0-d array has no axis)")
                               : " (use " + std::to_string(-r) + ".." + std::to_string(r - 1) + ")"));
  if (g.axis < 0) g.axis += r;
  if (per_channel) return qmath::per_channel(static_cast<int>(g.axis));
  if (!g.group_size_given || g.group_size <= 0)
    throw cli_error("granularity group needs " + g.group_size_name + " > 0");
  return qmath::per_group(static_cast<int>(g.axis), g.group_size);
}

inline std::string describe_granularity(const GranularitySpec& g, std::size_t slots) {
  if (g.kind == "tensor") return "per tensor";
  const std::string scales = std::to_string(slots) + (slots == 1 ? " scale" : " scales");
  if (g.kind == "channel") return "per channel on axis " + std::to_string(g.axis) + ", " + scales;
  return "per group of " + std::to_string(g.group_size) + " on axis " + std::to_string(g.axis) + ", " + scales;
}

inline std::string describe_tensor(const qmath::NpyArray& a) {
  std::string dims;
  for (std::size_t k = 0; k < a.shape.size(); ++k) dims += (k ? ", " : "") + std::to_string(a.shape[k]);
  return "shape [" + dims + "], " + (a.fortran_order ? "Fortran order" : "C order");
}

}  // namespace qmath_tool
