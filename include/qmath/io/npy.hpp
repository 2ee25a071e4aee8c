// SPDX-License-Identifier: Apache-2.0
// io/npy.hpp: a small, strict reader and writer of NumPy .npy files (format versions 1.0, 2.0 and 3.0).
//
// A .npy file is: the magic "\x93NUMPY", a major and a minor version byte, the header length (2 bytes
// little-endian in version 1.0, 4 bytes in 2.0 and 3.0), a header that is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and ended by '\n', then the raw elements in C (row-major) or Fortran (column-major) order.
// Version 3.0 only allows UTF-8 in the header, which changes nothing for the dtypes read here.
//
// Supported dtypes (NumPy descr), all readable and writable except <f8 (read only):
//   <f2 (float16: values<Eigen::half>()), <f4, <f8, |i1, |u1, <i2, <u2, <i4, <u4, <i8,
//   |b1 (bool: one byte per element, read as std::uint8_t through values<std::uint8_t>(); a byte other than 0 or
//        1 is not a valid bool and is refused on reading and writing).
// Anything else (big-endian, object, structured, strings, complex, ...) is refused with a qmath::error that
// names the file and the problem. So is every malformed file: bad magic, truncated header or data, a header that
// is not the dict above, a shape whose size overflows, trailing bytes. The reader never reads past a buffer and
// never allocates more than the bytes the stream actually delivers (plus one chunk). NpyArray::to_float() widens
// any supported dtype to float32 (exactness documented there).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <istream>
#include <limits>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/format/bf16.hpp"
#include "qmath/format/fp16.hpp"
#include "qmath/format/fp8.hpp"
#include "qmath/quant/layout.hpp"

// Elements are copied to and from memory as they lie in the file (little-endian): the host must agree.
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__)
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "qmath/io/npy.hpp supports little-endian hosts only");
#endif

QMATH_BEGIN_NAMESPACE

/// The NumPy descr qmath uses for the element type T ("<f4" for float, "|i1" for std::int8_t, ...).
template <class T>
struct npy_dtype;
/// float16 elements are Eigen::half, which holds exactly the 16 bits of the file.
template <>
struct npy_dtype<Eigen::half> {
  static constexpr const char* kDescr = "<f2";
};
template <>
struct npy_dtype<float> {
  static constexpr const char* kDescr = "<f4";
};
template <>
struct npy_dtype<double> {
  static constexpr const char* kDescr = "<f8";
};
template <>
struct npy_dtype<std::int8_t> {
  static constexpr const char* kDescr = "|i1";
};
template <>
struct npy_dtype<std::uint8_t> {
  static constexpr const char* kDescr = "|u1";
};
template <>
struct npy_dtype<std::int16_t> {
  static constexpr const char* kDescr = "<i2";
};
template <>
struct npy_dtype<std::uint16_t> {
  static constexpr const char* kDescr = "<u2";
};
template <>
struct npy_dtype<std::int32_t> {
  static constexpr const char* kDescr = "<i4";
};
template <>
struct npy_dtype<std::uint32_t> {
  static constexpr const char* kDescr = "<u4";
};
template <>
struct npy_dtype<std::int64_t> {
  static constexpr const char* kDescr = "<i8";
};

namespace detail {

/// What the bytes of one element mean; shared by the .npy and .safetensors readers.
enum class element_kind { f16, bf16, f32, f64, i8, u8, boolean, i16, u16, i32, u32, i64, u64, e4m3fn, e5m2 };

/// double -> float, rounded to nearest even like the hardware conversion, with the out-of-range cases (undefined
/// behaviour for a plain cast) spelled out: from halfway between FLT_MAX and 2^128 on, the result is infinity.
inline float f64_to_f32_nearest(double value) noexcept {
  constexpr double kFloatMax = static_cast<double>(std::numeric_limits<float>::max());
  constexpr double kToInfinity = 0x1.ffffffp+127;
  if (value >= kToInfinity) return std::numeric_limits<float>::infinity();
  if (value <= -kToInfinity) return -std::numeric_limits<float>::infinity();
  if (value > kFloatMax) return std::numeric_limits<float>::max();
  if (value < -kFloatMax) return -std::numeric_limits<float>::max();
  return static_cast<float>(value);
}

template <class T>
T load_element(const std::uint8_t* bytes) noexcept {
  T value;
  std::memcpy(&value, bytes, sizeof(T));
  return value;
}

/// Index of the first byte that is neither 0 nor 1, or `count` when all are valid bools.
inline std::size_t first_invalid_bool(const std::uint8_t* bytes, std::size_t count) noexcept {
  for (std::size_t i = 0; i < count; ++i)
    if (bytes[i] > 1) return i;
  return count;
}

/// Widens `count` elements of `kind` to float32. Exact for f16, bf16, f32, fp8, bool and integers of up to 16
/// bits; 32- and 64-bit integers are exact up to magnitude 2^24 and rounded to nearest beyond; f64 is rounded to
/// nearest even (overflow to +-inf). Throws through `fail` on a bool byte other than 0 or 1.
template <class Fail>
std::vector<float> widen_to_float(element_kind kind, const std::uint8_t* bytes, std::size_t count, Fail fail) {
  std::vector<float> out(count);
  const auto each = [&](auto load) {
    for (std::size_t i = 0; i < count; ++i) out[i] = load(i);
  };
  switch (kind) {
    case element_kind::f16:
      each([&](std::size_t i) { return f16_bits_to_f32(load_element<std::uint16_t>(bytes + 2 * i)); });
      break;
    case element_kind::bf16:
      each([&](std::size_t i) { return bf16_bits_to_f32(load_element<std::uint16_t>(bytes + 2 * i)); });
      break;
    case element_kind::f32:
      if (count > 0) std::memcpy(out.data(), bytes, 4 * count);
      break;
    case element_kind::f64:
      each([&](std::size_t i) { return f64_to_f32_nearest(load_element<double>(bytes + 8 * i)); });
      break;
    case element_kind::i8:
      each([&](std::size_t i) { return static_cast<float>(static_cast<std::int8_t>(bytes[i])); });
      break;
    case element_kind::u8:
      each([&](std::size_t i) { return static_cast<float>(bytes[i]); });
      break;
    case element_kind::boolean: {
      const std::size_t bad = first_invalid_bool(bytes, count);
      if (bad < count)
        fail("bool element " + std::to_string(bad) + " is " + std::to_string(bytes[bad]) + ", not 0 or 1");
      each([&](std::size_t i) { return static_cast<float>(bytes[i]); });
      break;
    }
    case element_kind::i16:
      each([&](std::size_t i) { return static_cast<float>(load_element<std::int16_t>(bytes + 2 * i)); });
      break;
    case element_kind::u16:
      each([&](std::size_t i) { return static_cast<float>(load_element<std::uint16_t>(bytes + 2 * i)); });
      break;
    case element_kind::i32:
      each([&](std::size_t i) { return static_cast<float>(load_element<std::int32_t>(bytes + 4 * i)); });
      break;
    case element_kind::u32:
      each([&](std::size_t i) { return static_cast<float>(load_element<std::uint32_t>(bytes + 4 * i)); });
      break;
    case element_kind::i64:
      each([&](std::size_t i) { return static_cast<float>(load_element<std::int64_t>(bytes + 8 * i)); });
      break;
    case element_kind::u64:
      each([&](std::size_t i) { return static_cast<float>(load_element<std::uint64_t>(bytes + 8 * i)); });
      break;
    case element_kind::e4m3fn:
      each([&](std::size_t i) { return e4m3fn_to_f32(bytes[i]); });
      break;
    case element_kind::e5m2:
      each([&](std::size_t i) { return e5m2_to_f32(bytes[i]); });
      break;
  }
  return out;
}

constexpr char kNpyMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
/// Larger headers than this are refused before allocating: a plain dtype's header is under 200 bytes.
constexpr std::size_t kNpyMaxHeaderBytes = std::size_t{1} << 20;
/// The reader grows its buffer by at most this much per read, so a lying header cannot make it allocate
/// far more than the file holds.
constexpr std::size_t kNpyReadChunk = std::size_t{1} << 24;

[[noreturn]] inline void npy_fail(const char* fn, const std::string& name, const std::string& problem) {
  throw error(std::string(fn) + ": '" + name + "': " + problem);
}

struct NpyDescr {
  std::string canonical;  ///< e.g. "<f4"
  std::size_t itemsize;   ///< bytes per element
  bool writable;
  element_kind kind;
};

/// Checks a descr string from a header or a caller; returns its canonical form or throws.
inline NpyDescr parse_npy_descr(const std::string& descr, const char* fn, const std::string& name) {
  static const NpyDescr kSupported[] = {
      {"<f2", 2, true, element_kind::f16}, {"<f4", 4, true, element_kind::f32}, {"<f8", 8, false, element_kind::f64},
      {"|i1", 1, true, element_kind::i8},  {"|u1", 1, true, element_kind::u8},  {"|b1", 1, true, element_kind::boolean},
      {"<i2", 2, true, element_kind::i16}, {"<u2", 2, true, element_kind::u16}, {"<i4", 4, true, element_kind::i32},
      {"<u4", 4, true, element_kind::u32}, {"<i8", 8, true, element_kind::i64}};
  const std::string quoted = "'" + descr + "'";
  const bool has_order = !descr.empty() && (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '=');
  const char order = has_order ? descr[0] : '\0';
  const std::string type = has_order ? descr.substr(1) : descr;
  if (type == "O") npy_fail(fn, name, "object arrays (dtype " + quoted + ") are not supported");
  for (const NpyDescr& d : kSupported) {
    if (type != d.canonical.substr(1)) continue;
    // One-byte types have no byte order: NumPy writes '|', but any marker means the same.
    if (d.itemsize == 1) return d;
    if (order == '<') return d;
    if (order == '>')
      npy_fail(fn, name, "big-endian dtype " + quoted + " is not supported (only little-endian '<' data)");
    npy_fail(fn, name, "dtype " + quoted + " does not say little-endian ('<" + type + "')");
  }
  npy_fail(fn, name,
           "unsupported dtype " + quoted +
               " (supported: <f2, <f4, <f8 (read only), |i1, |u1, |b1, <i2, <u2, <i4, <u4, <i8)");
}

/// Number of elements and of bytes of an array, with every overflow caught.
inline void npy_sizes(const std::vector<std::int64_t>& shape, std::size_t itemsize, const char* fn,
                      const std::string& name, std::size_t& count, std::size_t& bytes) {
  count = 1;
  bool empty = false;
  for (std::size_t k = 0; k < shape.size(); ++k) {
    if (shape[k] < 0) npy_fail(fn, name, "shape[" + std::to_string(k) + "] is negative");
    empty = empty || shape[k] == 0;
  }
  if (empty) {  // a zero dim makes the product 0, whatever the other dims would overflow to
    count = bytes = 0;
    return;
  }
  const std::size_t limit = std::numeric_limits<std::size_t>::max() / itemsize;
  for (std::int64_t d : shape) {
    const auto ud = static_cast<std::uint64_t>(d);
    if (ud > limit || count > limit / static_cast<std::size_t>(ud))
      npy_fail(fn, name, "the shape's element count overflows");
    count *= static_cast<std::size_t>(ud);
  }
  bytes = count * itemsize;
}

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::int64_t> shape;
};

/// Parses the header dict: exactly the keys 'descr', 'fortran_order' and 'shape', in any order, each once;
/// Python literal syntax with optional spaces and trailing commas. Nothing but whitespace may follow the '}'.
class NpyHeaderParser {
 public:
  NpyHeaderParser(const std::string& text, const char* fn, const std::string& name)
      : text_(text), fn_(fn), name_(name) {}

  NpyHeader parse() {
    NpyHeader h;
    bool seen_descr = false, seen_order = false, seen_shape = false;
    skip_space();
    expect('{', "the header must be a dict starting with '{'");
    skip_space();
    while (peek() != '}') {
      const std::string key = parse_string("a key in quotes");
      skip_space();
      expect(':', "expected ':' after the key '" + key + "'");
      skip_space();
      if (key == "descr") {
        mark_seen(seen_descr, key);
        if (peek() == '[') fail("structured dtypes (a list as 'descr') are not supported");
        h.descr = parse_string("the 'descr' string");
      } else if (key == "fortran_order") {
        mark_seen(seen_order, key);
        h.fortran_order = parse_bool();
      } else if (key == "shape") {
        mark_seen(seen_shape, key);
        h.shape = parse_shape();
      } else {
        fail("unexpected key '" + key + "' in the header");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        skip_space();
      } else if (peek() != '}') {
        fail("expected ',' or '}' after the value of '" + key + "'");
      }
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the header dict");
    if (!seen_descr) fail("the header has no 'descr'");
    if (!seen_order) fail("the header has no 'fortran_order'");
    if (!seen_shape) fail("the header has no 'shape'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    npy_fail(fn_, name_, "bad header at byte " + std::to_string(pos_) + ": " + problem);
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\r' || text_[pos_] == '\n'))
      ++pos_;
  }
  void expect(char c, const std::string& problem) {
    if (peek() != c || pos_ >= text_.size()) fail(problem);
    ++pos_;
  }
  void mark_seen(bool& seen, const std::string& key) {
    if (seen) fail("the key '" + key + "' appears twice");
    seen = true;
  }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  std::string parse_string(const std::string& what) {
    const char quote = peek();
    if (pos_ >= text_.size() || (quote != '\'' && quote != '"')) fail("expected " + what);
    const std::size_t begin = ++pos_;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\') fail("escapes in strings are not supported");
      if (text_[pos_] == '\n') fail("unterminated string");
      ++pos_;
    }
    if (pos_ >= text_.size()) fail("unterminated string");
    return text_.substr(begin, pos_++ - begin);
  }

  bool parse_bool() {
    if (text_.compare(pos_, 4, "True") == 0) {
      pos_ += 4;
      return true;
    }
    if (text_.compare(pos_, 5, "False") == 0) {
      pos_ += 5;
      return false;
    }
    fail("'fortran_order' must be True or False");
  }

  std::int64_t parse_dim() {
    if (!is_digit(peek())) fail("a dim of 'shape' must be a non-negative integer");
    if (peek() == '0' && is_digit(pos_ + 1 < text_.size() ? text_[pos_ + 1] : '\0'))
      fail("a dim of 'shape' has a leading zero");
    std::int64_t value = 0;
    while (is_digit(peek())) {
      const int digit = peek() - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) fail("a dim of 'shape' overflows int64");
      value = value * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L') ++pos_;  // Python 2 long literal, found in files written by old NumPy
    return value;
  }

  // A tuple: "()", "(3,)", "(2, 3)", "(2, 3,)". "(3)" is an int in Python, not a tuple, and is refused.
  std::vector<std::int64_t> parse_shape() {
    if (peek() == '[') fail("'shape' must be a tuple, not a list");
    expect('(', "'shape' must be a tuple");
    std::vector<std::int64_t> dims;
    bool trailing_comma = false;
    skip_space();
    while (peek() != ')') {
      dims.push_back(parse_dim());
      skip_space();
      trailing_comma = false;
      if (peek() == ',') {
        ++pos_;
        trailing_comma = true;
        skip_space();
      } else if (peek() != ')') {
        fail("expected ',' or ')' in 'shape'");
      }
    }
    ++pos_;
    if (dims.size() == 1 && !trailing_comma) fail("'shape' (n) is not a tuple: a 1-tuple is written (n,)");
    return dims;
  }

  const std::string& text_;
  const char* fn_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

inline std::string npy_header_text(const std::string& descr, const std::vector<std::int64_t>& shape,
                                   bool fortran_order) {
  std::string dims;
  for (std::size_t k = 0; k < shape.size(); ++k) dims += (k ? ", " : "") + std::to_string(shape[k]);
  if (shape.size() == 1) dims += ",";
  return "{'descr': '" + descr + "', 'fortran_order': " + (fortran_order ? "True" : "False") + ", 'shape': (" + dims +
         "), }";
}

inline void check_npy_bools(const std::uint8_t* bytes, std::size_t count, const char* fn, const std::string& name) {
  const std::size_t bad = first_invalid_bool(bytes, count);
  if (bad < count)
    npy_fail(fn, name, "bool element " + std::to_string(bad) + " is " + std::to_string(bytes[bad]) + ", not 0 or 1");
}

/// The checks of write_npy, run before anything is written; returns the dtype.
inline NpyDescr check_npy_write(const std::string& dtype, const std::vector<std::int64_t>& shape, const void* data,
                                std::size_t bytes, const char* fn, const std::string& name) {
  const NpyDescr descr = parse_npy_descr(dtype, fn, name);
  if (!descr.writable) npy_fail(fn, name, "writing dtype '" + descr.canonical + "' is not supported");
  std::size_t count = 0, expected = 0;
  npy_sizes(shape, descr.itemsize, fn, name, count, expected);
  if (bytes != expected)
    npy_fail(fn, name, "got " + std::to_string(bytes) + " bytes of data, the shape needs " + std::to_string(expected));
  if (bytes > 0 && data == nullptr) npy_fail(fn, name, "null data pointer for a non-empty array");
  if (descr.kind == element_kind::boolean) check_npy_bools(static_cast<const std::uint8_t*>(data), bytes, fn, name);
  return descr;
}

/// Reads up to n bytes; returns how many came.
inline std::size_t read_bytes(std::istream& in, void* to, std::size_t n) {
  in.read(static_cast<char*>(to), static_cast<std::streamsize>(n));
  return static_cast<std::size_t>(in.gcount());
}

}  // namespace detail

/// The contents of a .npy file. `dtype` is always in the canonical form above ("|i1" even when the file says
/// "<i1" or "i1"); `data` holds the elements' bytes in file order (little-endian), C or Fortran order.
struct NpyArray {
  std::string dtype;
  std::vector<std::int64_t> shape;  ///< empty for a 0-d array (one element)
  bool fortran_order = false;
  std::vector<std::uint8_t> data;

  /// Number of elements: the product of the shape (1 for a 0-d array). @throws qmath::error on overflow.
  std::size_t size() const {
    std::size_t count = 0, bytes = 0;
    detail::npy_sizes(shape, 1, "qmath::NpyArray::size", "<array>", count, bytes);
    return count;
  }

  template <class T>
  bool holds() const noexcept {
    return dtype == npy_dtype<T>::kDescr;
  }

  /// The elements as T, in storage order: float16 as Eigen::half, bool (|b1) as std::uint8_t 0 or 1.
  /// @throws qmath::error when the dtype is not T's.
  template <class T>
  std::vector<T> values() const {
    constexpr const char* fn = "qmath::NpyArray::values";
    const bool bool_as_bytes = std::is_same<T, std::uint8_t>::value && dtype == "|b1";
    detail::require(holds<T>() || bool_as_bytes, fn,
                    std::string("the array holds ") + dtype + ", not " + npy_dtype<T>::kDescr);
    std::size_t count = 0, bytes = 0;
    detail::npy_sizes(shape, sizeof(T), fn, "<array>", count, bytes);
    detail::require(bytes == data.size(), fn,
                    "data holds " + std::to_string(data.size()) + " bytes, the shape needs " + std::to_string(bytes));
    std::vector<T> out(count);
    if (bytes > 0) std::memcpy(static_cast<void*>(out.data()), data.data(), bytes);
    return out;
  }

  /// Any dtype widened to float32, in storage order. Exact for <f2, <f4, |i1, |u1, |b1, <i2 and <u2; <i4, <u4
  /// and <i8 are exact up to magnitude 2^24 and rounded to nearest beyond; <f8 is rounded to nearest even (to
  /// +-inf past the float range). @throws qmath::error on an unsupported dtype, a size mismatch or a bool
  /// byte other than 0 or 1.
  std::vector<float> to_float() const {
    constexpr const char* fn = "qmath::NpyArray::to_float";
    const detail::NpyDescr descr = detail::parse_npy_descr(dtype, fn, "<array>");
    std::size_t count = 0, bytes = 0;
    detail::npy_sizes(shape, descr.itemsize, fn, "<array>", count, bytes);
    detail::require(bytes == data.size(), fn,
                    "data holds " + std::to_string(data.size()) + " bytes, the shape needs " + std::to_string(bytes));
    return detail::widen_to_float(descr.kind, data.data(), count,
                                  [&](const std::string& problem) { detail::npy_fail(fn, "<array>", problem); });
  }
};

/// The array's dims, in col_major order when the file is in Fortran order.
inline TensorShape shape_of(const NpyArray& a) {
  return TensorShape{a.shape, a.fortran_order ? storage_order::col_major : storage_order::row_major};
}

/// Reads a .npy file from a stream; `name` is what error messages call it.
/// @throws qmath::error on an unsupported dtype or a malformed or truncated file.
inline NpyArray read_npy(std::istream& in, const std::string& name = "<stream>") {
  constexpr const char* fn = "qmath::read_npy";
  unsigned char prelude[8];
  const std::size_t got = detail::read_bytes(in, prelude, sizeof(prelude));
  if (got < sizeof(detail::kNpyMagic) || std::memcmp(prelude, detail::kNpyMagic, sizeof(detail::kNpyMagic)) != 0)
    detail::npy_fail(fn, name, "not a .npy file (no \\x93NUMPY magic at the start)");
  if (got < sizeof(prelude)) detail::npy_fail(fn, name, "truncated: the file ends inside the version bytes");
  const unsigned major = prelude[6], minor = prelude[7];
  if ((major != 1 && major != 2 && major != 3) || minor != 0)
    detail::npy_fail(fn, name,
                     "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                         " (supported: 1.0, 2.0, 3.0)");

  // The length is little-endian on every host; assemble it byte by byte.
  const std::size_t length_bytes = major == 1 ? 2 : 4;
  unsigned char length_field[4] = {0, 0, 0, 0};
  if (detail::read_bytes(in, length_field, length_bytes) != length_bytes)
    detail::npy_fail(fn, name, "truncated: the file ends inside the header length");
  std::uint64_t header_length = 0;
  for (std::size_t k = length_bytes; k-- > 0;) header_length = (header_length << 8) | length_field[k];
  if (header_length > detail::kNpyMaxHeaderBytes)
    detail::npy_fail(fn, name,
                     "header length " + std::to_string(header_length) + " exceeds the limit of " +
                         std::to_string(detail::kNpyMaxHeaderBytes) + " bytes");
  std::string header(static_cast<std::size_t>(header_length), '\0');
  const std::size_t header_got = detail::read_bytes(in, &header[0], header.size());
  if (header_got != header.size())
    detail::npy_fail(fn, name,
                     "truncated header: its length says " + std::to_string(header.size()) + " bytes, the file has " +
                         std::to_string(header_got));

  const detail::NpyHeader h = detail::NpyHeaderParser(header, fn, name).parse();
  const detail::NpyDescr descr = detail::parse_npy_descr(h.descr, fn, name);
  std::size_t count = 0, bytes = 0;
  detail::npy_sizes(h.shape, descr.itemsize, fn, name, count, bytes);

  NpyArray a;
  a.dtype = descr.canonical;
  a.shape = h.shape;
  a.fortran_order = h.fortran_order;
  while (a.data.size() < bytes) {
    const std::size_t have = a.data.size();
    const std::size_t want = std::min(bytes - have, detail::kNpyReadChunk);
    a.data.resize(have + want);
    const std::size_t came = detail::read_bytes(in, a.data.data() + have, want);
    if (came != want)
      detail::npy_fail(fn, name,
                       "truncated data: the header announces " + std::to_string(bytes) + " bytes, the file has " +
                           std::to_string(have + came));
  }
  if (descr.kind == detail::element_kind::boolean) detail::check_npy_bools(a.data.data(), a.data.size(), fn, name);
  if (in.peek() != std::char_traits<char>::eof())
    detail::npy_fail(fn, name, "unexpected bytes after the " + std::to_string(bytes) + " bytes of data");
  return a;
}

/// Reads the .npy file at `path`. @throws qmath::error when it cannot be opened, or as read_npy(istream).
inline NpyArray read_npy(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    detail::npy_fail("qmath::read_npy", path,
                     std::string("cannot open for reading") + (errno ? std::string(": ") + std::strerror(errno) : ""));
  return read_npy(in, path);
}

/// Writes a .npy file (format 1.0, or 2.0 when the header needs it) holding `bytes` bytes of `data` with the
/// given dtype (a descr above, not <f8) and shape. `name` is what error messages call the destination.
/// @throws qmath::error on an unsupported dtype, a negative dim, a size mismatch or a failed write; the
///         arguments are checked before anything is written.
inline void write_npy(std::ostream& out, const std::string& dtype, const std::vector<std::int64_t>& shape,
                      bool fortran_order, const void* data, std::size_t bytes, const std::string& name = "<stream>") {
  constexpr const char* fn = "qmath::write_npy";
  const detail::NpyDescr descr = detail::check_npy_write(dtype, shape, data, bytes, fn, name);

  // Pad with spaces so that the data starts at a multiple of 64 bytes, as NumPy does, and end with '\n'.
  std::string header = detail::npy_header_text(descr.canonical, shape, fortran_order);
  const bool version1 = header.size() + 1 + 63 <= 0xFFFF;  // with the worst-case padding, still fits 2 bytes
  const std::size_t prelude = version1 ? 10 : 12;
  header.append((64 - (prelude + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  unsigned char start[12];
  std::memcpy(start, detail::kNpyMagic, 6);
  start[6] = version1 ? 1 : 2;
  start[7] = 0;
  for (std::size_t k = 0; k < prelude - 8; ++k) start[8 + k] = static_cast<unsigned char>(header.size() >> (8 * k));
  out.write(reinterpret_cast<const char*>(start), static_cast<std::streamsize>(prelude));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  if (bytes > 0) out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  if (!out) detail::npy_fail(fn, name, "write failed");
}

/// Writes a .npy file at `path` (replacing it). See write_npy(ostream).
inline void write_npy(const std::string& path, const std::string& dtype, const std::vector<std::int64_t>& shape,
                      bool fortran_order, const void* data, std::size_t bytes) {
  constexpr const char* fn = "qmath::write_npy";
  detail::check_npy_write(dtype, shape, data, bytes, fn, path);  // first, so that bad arguments leave no file

  errno = 0;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    detail::npy_fail(fn, path,
                     std::string("cannot open for writing") + (errno ? std::string(": ") + std::strerror(errno) : ""));
  write_npy(out, dtype, shape, fortran_order, data, bytes, path);
  out.close();
  if (!out) detail::npy_fail(fn, path, "write failed");
}

inline void write_npy(const std::string& path, const NpyArray& a) {
  write_npy(path, a.dtype, a.shape, a.fortran_order, a.data.data(), a.data.size());
}

/// Typed convenience: values in storage order (C order unless fortran_order).
template <class T>
void write_npy(const std::string& path, const std::vector<T>& values, const std::vector<std::int64_t>& shape,
               bool fortran_order = false) {
  write_npy(path, npy_dtype<T>::kDescr, shape, fortran_order, values.data(), values.size() * sizeof(T));
}
template <class T>
void write_npy(const std::string& path, const std::vector<T>& values, const TensorShape& shape) {
  write_npy(path, values, shape.dims, shape.order == storage_order::col_major);
}

QMATH_END_NAMESPACE  // qmath
