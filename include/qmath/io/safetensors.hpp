// SPDX-License-Identifier: Apache-2.0
// io/safetensors.hpp: a strict reader of .safetensors files, and a writer for tests and tools.
//
// A .safetensors file is: N, the header length (8 bytes, little-endian), N bytes of UTF-8 JSON, then the data
// buffer. The JSON is one object mapping each tensor name to
//   {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}
// (offsets in bytes, relative to the start of the data buffer) plus an optional "__metadata__" object of
// string -> string. The writer pads the header with spaces to a multiple of 8 bytes, as the reference does.
//
// Dtypes: F32, F16, BF16, F64, I8, U8, I16, U16, I32, U32, I64, U64, BOOL (one byte, 0 or 1), F8_E4M3 (e4m3fn)
// and F8_E5M2. Anything else is refused with a qmath::error naming the tensor and the dtype.
//
// The JSON parser is written for this schema and refuses what the reference would not produce: it takes only
// JSON (strings with every escape, \uXXXX surrogate pairs decoded to UTF-8, raw UTF-8 validated; integers; the
// whitespace JSON allows), and the schema fixes the nesting at three levels (file object, tensor object, shape
// array), so any deeper value is refused where it starts and no input drives a recursion. Also refused: a
// header that does not start with '{', duplicate keys at any level, unknown keys in a tensor entry, a missing
// field, a dim or offset that is negative, fractional, in exponent form or above int64, a header over 100 MB
// (before allocating it), a header or data buffer cut short, offsets out of order with their sizes, overlapping,
// leaving a hole, or not covering the data buffer exactly, a byte count other than numel * itemsize (overflow
// checked), and a BOOL byte other than 0 or 1. The reader never reads past a buffer and never allocates much
// more than the input holds (reading a stream, a tensor's buffer grows geometrically, at most 16 MiB at a time).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <istream>
#include <limits>
#include <map>
#include <numeric>
#include <ostream>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/io/detail/safetensors_header.hpp"
#include "qmath/io/npy.hpp"
#include "qmath/quant/layout.hpp"

QMATH_BEGIN_NAMESPACE

/// The safetensors dtype name of the element type T ("F32" for float, "BF16" for Eigen::bfloat16, ...).
template <class T>
struct safetensors_dtype;
template <>
struct safetensors_dtype<float> {
  static constexpr const char* kName = "F32";
};
template <>
struct safetensors_dtype<double> {
  static constexpr const char* kName = "F64";
};
template <>
struct safetensors_dtype<Eigen::half> {
  static constexpr const char* kName = "F16";
};
template <>
struct safetensors_dtype<Eigen::bfloat16> {
  static constexpr const char* kName = "BF16";
};
template <>
struct safetensors_dtype<std::int8_t> {
  static constexpr const char* kName = "I8";
};
template <>
struct safetensors_dtype<std::uint8_t> {
  static constexpr const char* kName = "U8";
};
template <>
struct safetensors_dtype<std::int16_t> {
  static constexpr const char* kName = "I16";
};
template <>
struct safetensors_dtype<std::uint16_t> {
  static constexpr const char* kName = "U16";
};
template <>
struct safetensors_dtype<std::int32_t> {
  static constexpr const char* kName = "I32";
};
template <>
struct safetensors_dtype<std::uint32_t> {
  static constexpr const char* kName = "U32";
};
template <>
struct safetensors_dtype<std::int64_t> {
  static constexpr const char* kName = "I64";
};
template <>
struct safetensors_dtype<std::uint64_t> {
  static constexpr const char* kName = "U64";
};

namespace detail {

/// Checks each entry's byte count and that the entries, sorted by offsets, tile [0, total) with no gap and no
/// overlap. Returns the indices of the entries in file order and sets `total`.
inline std::vector<std::size_t> check_safetensors_layout(const std::vector<SafetensorsEntry>& entries, const char* fn,
                                                         const std::string& file, std::uint64_t& total) {
  for (const SafetensorsEntry& e : entries) {
    const auto fail = [&](const std::string& problem) {
      safetensors_fail(fn, file,
                       "tensor " + quoted_name(e.name) + ": data_offsets [" + std::to_string(e.begin) + ", " +
                           std::to_string(e.end) + "] " + problem);
    };
    if (e.end < e.begin) fail("end before they begin");
    std::uint64_t bytes = 0;
    if (!safetensors_byte_count(e.shape, e.dtype->itemsize, bytes))
      fail("are for shape " + shape_text(e.shape) + ", whose byte count overflows");
    if (e.end - e.begin != bytes)
      fail("hold " + std::to_string(e.end - e.begin) + " bytes, but " + e.dtype->name + " " + shape_text(e.shape) +
           " needs " + std::to_string(bytes));
  }
  std::vector<std::size_t> order(entries.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return entries[a].begin != entries[b].begin ? entries[a].begin < entries[b].begin : entries[a].end < entries[b].end;
  });
  total = 0;
  const SafetensorsEntry* previous = nullptr;
  for (std::size_t index : order) {
    const SafetensorsEntry& e = entries[index];
    if (e.begin < total)
      safetensors_fail(fn, file,
                       "tensor " + quoted_name(e.name) + " (data_offsets [" + std::to_string(e.begin) + ", " +
                           std::to_string(e.end) + "]) overlaps tensor " + quoted_name(previous->name) +
                           " (which ends at " + std::to_string(total) + ")");
    if (e.begin > total)
      safetensors_fail(fn, file,
                       "bytes [" + std::to_string(total) + ", " + std::to_string(e.begin) +
                           ") of the data buffer belong to no tensor (the format allows no holes)");
    total = e.end;
    previous = &e;
  }
  return order;
}

inline void check_safetensors_bools(const SafetensorsEntry& e, const std::vector<std::uint8_t>& data, const char* fn,
                                    const std::string& file) {
  if (e.dtype->kind != element_kind::boolean) return;
  const std::size_t bad = first_invalid_bool(data.data(), data.size());
  if (bad < data.size())
    safetensors_fail(fn, file,
                     "tensor " + quoted_name(e.name) + ": BOOL element " + std::to_string(bad) + " is " +
                         std::to_string(data[bad]) + ", not 0 or 1");
}

inline std::uint64_t load_u64_le(const std::uint8_t* bytes) noexcept {
  std::uint64_t value = 0;
  for (int k = 7; k >= 0; --k) value = (value << 8) | bytes[k];
  return value;
}

}  // namespace detail

/// One tensor of a .safetensors file: `data` holds its bytes as in the file (little-endian, row-major).
struct SafetensorsTensor {
  std::string name;
  std::string dtype;                ///< "F32", "BF16", ...
  std::vector<std::int64_t> shape;  ///< empty for a scalar (one element)
  std::vector<std::uint8_t> data;

  /// Number of elements. @throws qmath::error on a negative dim or overflow.
  std::size_t numel() const {
    return detail::element_count(TensorShape{shape, storage_order::row_major}, "qmath::SafetensorsTensor::numel");
  }

  template <class T>
  bool holds() const noexcept {
    return dtype == safetensors_dtype<T>::kName;
  }

  /// The elements as T: F16 as Eigen::half, BF16 as Eigen::bfloat16, BOOL as std::uint8_t 0 or 1.
  /// @throws qmath::error when the dtype is not T's or `data` does not match the shape.
  template <class T>
  std::vector<T> values() const {
    constexpr const char* fn = "qmath::SafetensorsTensor::values";
    const bool bool_as_bytes = std::is_same<T, std::uint8_t>::value && dtype == "BOOL";
    detail::require(holds<T>() || bool_as_bytes, fn,
                    "tensor " + detail::quoted_name(name) + " holds " + detail::quoted_name(dtype) + ", not " +
                        safetensors_dtype<T>::kName);
    const std::size_t count = checked_count(fn, sizeof(T));
    std::vector<T> out(count);
    if (count > 0) std::memcpy(static_cast<void*>(out.data()), data.data(), count * sizeof(T));
    return out;
  }

  /// Any dtype widened to float32. Exact for F32, F16, BF16, F8_*, I8, U8, I16, U16 and BOOL (through qmath's
  /// format converters); I32, U32, I64 and U64 are exact up to magnitude 2^24 and rounded to nearest beyond; F64
  /// is rounded to nearest even (to +-inf past the float range).
  /// @throws qmath::error on an unknown dtype, a size mismatch or a BOOL byte other than 0 or 1.
  std::vector<float> to_float() const {
    constexpr const char* fn = "qmath::SafetensorsTensor::to_float";
    const detail::SafetensorsDtype* d = detail::find_safetensors_dtype(dtype);
    detail::require(d != nullptr, fn,
                    "tensor " + detail::quoted_name(name) + ": unsupported dtype " + detail::quoted_name(dtype));
    const std::size_t count = checked_count(fn, d->itemsize);
    return detail::widen_to_float(d->kind, data.data(), count, [&](const std::string& problem) {
      throw error(std::string(fn) + ": tensor " + detail::quoted_name(name) + ": " + problem);
    });
  }

 private:
  std::size_t checked_count(const char* fn, std::size_t itemsize) const {
    std::uint64_t bytes = 0;
    detail::require(detail::safetensors_byte_count(shape, itemsize, bytes), fn,
                    "tensor " + detail::quoted_name(name) + ": shape " + detail::shape_text(shape) +
                        " has a negative dim or its byte count overflows");
    detail::require(bytes == data.size(), fn,
                    "tensor " + detail::quoted_name(name) + ": data holds " + std::to_string(data.size()) +
                        " bytes, the shape needs " + std::to_string(bytes));
    return static_cast<std::size_t>(bytes) / itemsize;
  }
};

/// The tensor's dims; safetensors data is always row-major.
inline TensorShape shape_of(const SafetensorsTensor& t) { return TensorShape{t.shape, storage_order::row_major}; }

struct SafetensorsFile {
  std::vector<SafetensorsTensor> tensors;  ///< in file order (by data_offsets)
  std::map<std::string, std::string> metadata;

  /// The tensor called `name`, or nullptr.
  const SafetensorsTensor* find(const std::string& name) const {
    for (const SafetensorsTensor& t : tensors)
      if (t.name == name) return &t;
    return nullptr;
  }
};

namespace detail {

inline SafetensorsTensor make_safetensors_tensor(const SafetensorsEntry& e) {
  SafetensorsTensor t;
  t.name = e.name;
  t.dtype = e.dtype->name;
  t.shape = e.shape;
  return t;
}

/// Appends up to `n` bytes from the stream to `to`, growing it geometrically from 64 KiB up to chunks of 16 MiB,
/// so that a size claimed by the header but absent from the stream is never allocated; returns how many came.
inline std::size_t append_from_stream(std::istream& in, std::vector<std::uint8_t>& to, std::uint64_t n) {
  constexpr std::size_t kFirstChunk = std::size_t{1} << 16;
  std::uint64_t done = 0;
  while (done < n) {
    const std::size_t step = std::min(std::max(to.size(), kFirstChunk), kNpyReadChunk);
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(n - done, step));
    const std::size_t have = to.size();
    to.resize(have + want);
    const std::size_t came = read_bytes(in, to.data() + have, want);
    done += came;
    if (came != want) {
      to.resize(have + came);
      break;
    }
  }
  return static_cast<std::size_t>(done);
}

}  // namespace detail

/// Parses a whole .safetensors image held in memory; `name` is what error messages call it.
/// @throws qmath::error on an unsupported dtype or anything malformed (see the file comment).
inline SafetensorsFile parse_safetensors(const std::uint8_t* bytes, std::size_t size, const std::string& name) {
  constexpr const char* fn = "qmath::parse_safetensors";
  if (size > 0 && bytes == nullptr) detail::safetensors_fail(fn, name, "null data pointer for a non-empty image");
  if (size < 8)
    detail::safetensors_fail(fn, name,
                             "truncated: " + std::to_string(size) + " bytes, fewer than the 8 of the header length");
  const std::uint64_t header_length = detail::load_u64_le(bytes);
  if (header_length > detail::kSafetensorsMaxHeaderBytes)
    detail::safetensors_fail(fn, name,
                             "header length " + std::to_string(header_length) + " exceeds the limit of " +
                                 std::to_string(detail::kSafetensorsMaxHeaderBytes) + " bytes");
  if (header_length > size - 8)
    detail::safetensors_fail(fn, name,
                             "truncated header: its length says " + std::to_string(header_length) +
                                 " bytes, the input has " + std::to_string(size - 8) + " after the length");
  const std::string header(reinterpret_cast<const char*>(bytes) + 8, static_cast<std::size_t>(header_length));
  std::vector<detail::SafetensorsEntry> entries;
  SafetensorsFile file;
  detail::SafetensorsHeaderParser(header, fn, name).parse(entries, file.metadata);
  std::uint64_t total = 0;
  const std::vector<std::size_t> order = detail::check_safetensors_layout(entries, fn, name, total);

  const std::size_t buffer_size = size - 8 - static_cast<std::size_t>(header_length);
  if (total > buffer_size)
    detail::safetensors_fail(fn, name,
                             "truncated data: the tensors need " + std::to_string(total) + " bytes, the input has " +
                                 std::to_string(buffer_size));
  if (total < buffer_size)
    detail::safetensors_fail(fn, name,
                             "the data buffer has " + std::to_string(buffer_size - total) +
                                 " bytes after the last tensor (the offsets must cover it exactly)");
  const std::uint8_t* buffer = bytes + 8 + header_length;
  file.tensors.reserve(entries.size());
  for (std::size_t index : order) {
    const detail::SafetensorsEntry& e = entries[index];
    const auto begin = static_cast<std::size_t>(e.begin), end = static_cast<std::size_t>(e.end);
    SafetensorsTensor t = detail::make_safetensors_tensor(e);
    t.data.assign(buffer + begin, buffer + end);
    detail::check_safetensors_bools(e, t.data, fn, name);
    file.tensors.push_back(std::move(t));
  }
  return file;
}

/// Reads a .safetensors file from a stream; `name` is what error messages call it.
/// @throws qmath::error on an unsupported dtype or anything malformed (see the file comment).
inline SafetensorsFile read_safetensors(std::istream& in, const std::string& name = "<stream>") {
  constexpr const char* fn = "qmath::read_safetensors";
  std::uint8_t prelude[8];
  const std::size_t got = detail::read_bytes(in, prelude, sizeof(prelude));
  if (got < sizeof(prelude))
    detail::safetensors_fail(fn, name,
                             "truncated: " + std::to_string(got) + " bytes, fewer than the 8 of the header length");
  const std::uint64_t header_length = detail::load_u64_le(prelude);
  if (header_length > detail::kSafetensorsMaxHeaderBytes)
    detail::safetensors_fail(fn, name,
                             "header length " + std::to_string(header_length) + " exceeds the limit of " +
                                 std::to_string(detail::kSafetensorsMaxHeaderBytes) + " bytes");
  std::vector<std::uint8_t> header_bytes;
  const std::size_t header_got = detail::append_from_stream(in, header_bytes, header_length);
  if (header_got != header_length)
    detail::safetensors_fail(fn, name,
                             "truncated header: its length says " + std::to_string(header_length) +
                                 " bytes, the file has " + std::to_string(header_got) + " after the length");
  const std::string header(header_bytes.begin(), header_bytes.end());
  header_bytes = {};

  std::vector<detail::SafetensorsEntry> entries;
  SafetensorsFile file;
  detail::SafetensorsHeaderParser(header, fn, name).parse(entries, file.metadata);
  std::uint64_t total = 0;
  const std::vector<std::size_t> order = detail::check_safetensors_layout(entries, fn, name, total);

  file.tensors.reserve(entries.size());
  std::uint64_t read_so_far = 0;
  for (std::size_t index : order) {
    const detail::SafetensorsEntry& e = entries[index];
    SafetensorsTensor t = detail::make_safetensors_tensor(e);
    const std::uint64_t want = e.end - e.begin;
    const std::size_t came = detail::append_from_stream(in, t.data, want);
    read_so_far += came;
    if (came != want)
      detail::safetensors_fail(fn, name,
                               "truncated data: the tensors need " + std::to_string(total) + " bytes, the file has " +
                                   std::to_string(read_so_far));
    detail::check_safetensors_bools(e, t.data, fn, name);
    file.tensors.push_back(std::move(t));
  }
  if (in.peek() != std::char_traits<char>::eof()) {
    in.ignore(std::numeric_limits<std::streamsize>::max());  // counts the extra bytes without keeping them
    detail::safetensors_fail(fn, name,
                             "the data buffer has " + std::to_string(in.gcount()) +
                                 " bytes after the last tensor (the offsets must cover it exactly)");
  }
  return file;
}

/// Reads the .safetensors file at `path`. @throws qmath::error when it cannot be opened, or as
/// read_safetensors(istream).
inline SafetensorsFile read_safetensors(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in)
    detail::safetensors_fail(
        "qmath::read_safetensors", path,
        std::string("cannot open for reading") + (errno ? std::string(": ") + std::strerror(errno) : ""));
  return read_safetensors(in, path);
}

namespace detail {

/// The checks of write_safetensors and the header it writes, padded with spaces to a multiple of 8 bytes.
inline std::string safetensors_header_text(const std::vector<SafetensorsTensor>& tensors,
                                           const std::map<std::string, std::string>& metadata, const char* fn,
                                           const std::string& file) {
  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& kv : metadata) {
      if (!is_valid_utf8(kv.first) || !is_valid_utf8(kv.second))
        safetensors_fail(fn, file, "metadata key " + quoted_name(kv.first) + ": key or value is not valid UTF-8");
      header += (first ? "" : ",") + json_quoted(kv.first) + ":" + json_quoted(kv.second);
      first = false;
    }
    header += "}";
  }
  std::set<std::string> names;
  std::uint64_t offset = 0;
  for (const SafetensorsTensor& t : tensors) {
    const std::string who = "tensor " + quoted_name(t.name);
    if (t.name == "__metadata__") safetensors_fail(fn, file, "the tensor name \"__metadata__\" is reserved");
    if (!is_valid_utf8(t.name)) safetensors_fail(fn, file, who + ": the name is not valid UTF-8");
    if (!names.insert(t.name).second) safetensors_fail(fn, file, who + " appears twice");
    const SafetensorsDtype* d = find_safetensors_dtype(t.dtype);
    if (d == nullptr)
      safetensors_fail(
          fn, file,
          who + ": unsupported dtype " + quoted_name(t.dtype) + " (supported: " + kSafetensorsDtypeList + ")");
    std::uint64_t bytes = 0;
    if (!safetensors_byte_count(t.shape, d->itemsize, bytes))
      safetensors_fail(fn, file, who + ": shape " + shape_text(t.shape) + " has a negative dim or overflows");
    if (bytes != t.data.size())
      safetensors_fail(fn, file,
                       who + ": data holds " + std::to_string(t.data.size()) + " bytes, " + d->name + " " +
                           shape_text(t.shape) + " needs " + std::to_string(bytes));
    if (d->kind == element_kind::boolean) {
      const std::size_t bad = first_invalid_bool(t.data.data(), t.data.size());
      if (bad < t.data.size())
        safetensors_fail(
            fn, file,
            who + ": BOOL element " + std::to_string(bad) + " is " + std::to_string(t.data[bad]) + ", not 0 or 1");
    }
    std::string dims;
    for (std::size_t k = 0; k < t.shape.size(); ++k) dims += (k ? "," : "") + std::to_string(t.shape[k]);
    header += (header.size() > 1 ? "," : "") + json_quoted(t.name) + ":{\"dtype\":\"" + d->name + "\",\"shape\":[" +
              dims + "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + bytes) + "]}";
    offset += bytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');
  if (header.size() > kSafetensorsMaxHeaderBytes)
    safetensors_fail(fn, file,
                     "the header would take " + std::to_string(header.size()) + " bytes, over the readers' limit of " +
                         std::to_string(kSafetensorsMaxHeaderBytes));
  return header;
}

}  // namespace detail

/// Writes a .safetensors image: the header lists the tensors in the given order with consecutive offsets, then
/// their data. `name` is what error messages call the destination.
/// @throws qmath::error on an unsupported dtype, a reserved, duplicate or non-UTF-8 name, a size mismatch, a BOOL
///         byte other than 0 or 1, or a failed write; the arguments are checked before anything is written.
inline void write_safetensors(std::ostream& out, const std::vector<SafetensorsTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {},
                              const std::string& name = "<stream>") {
  constexpr const char* fn = "qmath::write_safetensors";
  const std::string header = detail::safetensors_header_text(tensors, metadata, fn, name);
  std::uint8_t prelude[8];
  for (int k = 0; k < 8; ++k) prelude[k] = static_cast<std::uint8_t>(std::uint64_t{header.size()} >> (8 * k));
  out.write(reinterpret_cast<const char*>(prelude), sizeof(prelude));
  out.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const SafetensorsTensor& t : tensors)
    if (!t.data.empty())
      out.write(reinterpret_cast<const char*>(t.data.data()), static_cast<std::streamsize>(t.data.size()));
  if (!out) detail::safetensors_fail(fn, name, "write failed");
}

/// Writes a .safetensors file at `path` (replacing it). See write_safetensors(ostream).
inline void write_safetensors(const std::string& path, const std::vector<SafetensorsTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {}) {
  constexpr const char* fn = "qmath::write_safetensors";
  detail::safetensors_header_text(tensors, metadata, fn, path);  // first, so that bad arguments leave no file
  errno = 0;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    detail::safetensors_fail(
        fn, path, std::string("cannot open for writing") + (errno ? std::string(": ") + std::strerror(errno) : ""));
  write_safetensors(out, tensors, metadata, path);
  out.close();
  if (!out) detail::safetensors_fail(fn, path, "write failed");
}

QMATH_END_NAMESPACE  // qmath
