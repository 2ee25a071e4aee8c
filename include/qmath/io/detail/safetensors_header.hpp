// SPDX-License-Identifier: Apache-2.0
// io/detail/safetensors_header.hpp: the strict JSON of a .safetensors header (see io/safetensors.hpp for what it
// accepts and refuses): the dtype table, UTF-8 validation, the non-recursive header parser and the string quoting
// of the writer. Internal to io/safetensors.hpp; fuzzed through it (tests/fuzz/fuzz_safetensors.cpp).
#pragma once

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/io/npy.hpp"

QMATH_BEGIN_NAMESPACE
namespace detail {

/// The reference implementation's limit; checked before the header is allocated.
constexpr std::uint64_t kSafetensorsMaxHeaderBytes = 100000000;

struct SafetensorsDtype {
  const char* name;
  std::size_t itemsize;
  element_kind kind;
};

inline const SafetensorsDtype* find_safetensors_dtype(const std::string& name) noexcept {
  static const SafetensorsDtype kSupported[] = {
      {"F32", 4, element_kind::f32},      {"F16", 2, element_kind::f16},        {"BF16", 2, element_kind::bf16},
      {"F64", 8, element_kind::f64},      {"I8", 1, element_kind::i8},          {"U8", 1, element_kind::u8},
      {"I16", 2, element_kind::i16},      {"U16", 2, element_kind::u16},        {"I32", 4, element_kind::i32},
      {"U32", 4, element_kind::u32},      {"I64", 8, element_kind::i64},        {"U64", 8, element_kind::u64},
      {"BOOL", 1, element_kind::boolean}, {"F8_E4M3", 1, element_kind::e4m3fn}, {"F8_E5M2", 1, element_kind::e5m2}};
  for (const SafetensorsDtype& d : kSupported)
    if (name == d.name) return &d;
  return nullptr;
}

constexpr const char* kSafetensorsDtypeList =
    "F32, F16, BF16, F64, I8, U8, I16, U16, I32, U32, I64, U64, BOOL, F8_E4M3, F8_E5M2";

/// Length of the valid UTF-8 sequence starting at s[pos] (1 to 4), or 0 when it is not one: overlong forms,
/// UTF-16 surrogates and code points above U+10FFFF are invalid, as are sequences cut by the end.
inline std::size_t utf8_sequence_length(const std::string& s, std::size_t pos) noexcept {
  const auto byte = [&](std::size_t k) { return pos + k < s.size() ? static_cast<unsigned char>(s[pos + k]) : 0u; };
  const unsigned lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned low = 0x80, high = 0xBF;  // range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (byte(1) < low || byte(1) > high) return 0;
  for (std::size_t k = 2; k < length; ++k)
    if (byte(k) < 0x80 || byte(k) > 0xBF) return 0;
  return length;
}

inline bool is_valid_utf8(const std::string& s) noexcept {
  for (std::size_t pos = 0; pos < s.size();) {
    const std::size_t length = utf8_sequence_length(s, pos);
    if (length == 0) return false;
    pos += length;
  }
  return true;
}

/// A name as error messages show it: quoted, on one line (control bytes, and every non-ASCII byte when the name
/// is not valid UTF-8, become \xNN), cut after 100 bytes.
inline std::string quoted_name(const std::string& s) {
  constexpr std::size_t kMaxShown = 100;
  const bool utf8 = is_valid_utf8(s);
  std::string out = "'";
  std::size_t pos = 0;
  while (pos < s.size() && pos < kMaxShown) {
    const auto c = static_cast<unsigned char>(s[pos]);
    const std::size_t length = utf8 ? utf8_sequence_length(s, pos) : 1;
    if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8)) {
      static const char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out.append(s, pos, length);
    }
    pos += length;
  }
  if (pos < s.size()) out += "...";
  return out + "'";
}

[[noreturn]] inline void safetensors_fail(const char* fn, const std::string& file, const std::string& problem) {
  throw error(std::string(fn) + ": '" + file + "': " + problem);
}

inline std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t k = 0; k < shape.size(); ++k) out += (k ? ", " : "") + std::to_string(shape[k]);
  return out + "]";
}

/// numel * itemsize of a shape, or false when a dim is negative or the product overflows 64 bits.
inline bool safetensors_byte_count(const std::vector<std::int64_t>& shape, std::size_t itemsize, std::uint64_t& bytes) {
  bytes = 0;
  bool empty = false;
  for (std::int64_t d : shape) {
    if (d < 0) return false;
    empty = empty || d == 0;
  }
  if (empty) return true;  // no bytes, however large the other dims are
  std::uint64_t product = itemsize;
  for (std::int64_t d : shape) {
    const auto ud = static_cast<std::uint64_t>(d);
    if (product > std::numeric_limits<std::uint64_t>::max() / ud) return false;
    product *= ud;
  }
  if (product > std::numeric_limits<std::size_t>::max()) return false;
  bytes = product;
  return true;
}

/// One tensor entry of the header, before its data is attached.
struct SafetensorsEntry {
  std::string name;
  const SafetensorsDtype* dtype = nullptr;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;
};

/// Parses the header JSON into entries (in header order) and metadata; see the file comment for what it refuses.
class SafetensorsHeaderParser {
 public:
  SafetensorsHeaderParser(const std::string& text, const char* fn, const std::string& file)
      : text_(text), fn_(fn), file_(file) {}

  void parse(std::vector<SafetensorsEntry>& entries, std::map<std::string, std::string>& metadata) {
    if (text_.empty() || text_[0] != '{') fail("the header must start with '{' (a JSON object)");
    std::set<std::string> names;
    bool seen_metadata = false;
    parse_object("the header", [&](const std::string& key) {
      if (key == "__metadata__") {
        if (seen_metadata) fail("the key \"__metadata__\" appears twice");
        seen_metadata = true;
        parse_metadata(metadata);
        return;
      }
      if (!names.insert(key).second) fail("the tensor name " + quoted_name(key) + " appears twice");
      entries.push_back(parse_tensor(key));
    });
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the header's JSON object");
  }

 private:
  [[noreturn]] void fail(const std::string& problem) const {
    safetensors_fail(fn_, file_, "bad header at byte " + std::to_string(pos_) + ": " + problem);
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= text_.size(); }
  void skip_space() {
    while (pos_ < text_.size() &&
           (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c, const std::string& what) {
    if (at_end() || peek() != c) fail("expected " + what);
    ++pos_;
  }
  static bool is_digit(char c) { return c >= '0' && c <= '9'; }

  /// '{' members '}' with on_member(key) parsing each value; keys are strings, no trailing comma.
  template <class OnMember>
  void parse_object(const std::string& what, OnMember on_member) {
    expect('{', "'{' to start " + what);
    skip_space();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return;
    }
    while (true) {
      skip_space();
      if (at_end() || peek() != '"') fail("expected a key string in " + what);
      const std::string key = parse_string();
      skip_space();
      expect(':', "':' after the key " + quoted_name(key));
      skip_space();
      on_member(key);
      skip_space();
      if (!at_end() && peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}', "',' or '}' in " + what);
      return;
    }
  }

  void parse_metadata(std::map<std::string, std::string>& metadata) {
    if (text_.compare(pos_, 4, "null") == 0) {  // what serde writes for an absent Option
      pos_ += 4;
      return;
    }
    if (at_end() || peek() != '{') fail("\"__metadata__\" must be an object of strings");
    parse_object("\"__metadata__\"", [&](const std::string& key) {
      if (at_end() || peek() != '"')
        fail("the value of \"__metadata__\" key " + quoted_name(key) + " must be a string");
      std::string value = parse_string();
      if (!metadata.emplace(key, std::move(value)).second)
        fail("the \"__metadata__\" key " + quoted_name(key) + " appears twice");
    });
  }

  SafetensorsEntry parse_tensor(const std::string& name) {
    const std::string who = "tensor " + quoted_name(name);
    if (at_end() || peek() != '{') fail("the entry of " + who + " must be an object");
    SafetensorsEntry e;
    e.name = name;
    bool seen_dtype = false, seen_shape = false, seen_offsets = false;
    const auto mark = [&](bool& seen, const std::string& key) {
      if (seen) fail(who + ": the key \"" + key + "\" appears twice");
      seen = true;
    };
    parse_object("the entry of " + who, [&](const std::string& key) {
      if (key == "dtype") {
        mark(seen_dtype, key);
        if (at_end() || peek() != '"') fail(who + ": \"dtype\" must be a string");
        const std::string dtype = parse_string();
        e.dtype = find_safetensors_dtype(dtype);
        if (e.dtype == nullptr)
          fail(who + ": unsupported dtype " + quoted_name(dtype) + " (supported: " + kSafetensorsDtypeList + ")");
      } else if (key == "shape") {
        mark(seen_shape, key);
        e.shape = parse_integer_array(who + ": \"shape\"", "a dim of \"shape\"");
      } else if (key == "data_offsets") {
        mark(seen_offsets, key);
        const std::vector<std::int64_t> offsets =
            parse_integer_array(who + ": \"data_offsets\"", "an offset of \"data_offsets\"");
        if (offsets.size() != 2)
          fail(who + ": \"data_offsets\" must hold two offsets [begin, end], not " + std::to_string(offsets.size()));
        e.begin = static_cast<std::uint64_t>(offsets[0]);
        e.end = static_cast<std::uint64_t>(offsets[1]);
      } else {
        fail(who + ": unexpected key " + quoted_name(key) + " (expected \"dtype\", \"shape\", \"data_offsets\")");
      }
    });
    if (!seen_dtype) fail(who + " has no \"dtype\"");
    if (!seen_shape) fail(who + " has no \"shape\"");
    if (!seen_offsets) fail(who + " has no \"data_offsets\"");
    return e;
  }

  /// '[' integers ']': the only arrays of the schema, whose elements are never arrays or objects.
  std::vector<std::int64_t> parse_integer_array(const std::string& what, const std::string& element) {
    if (at_end() || peek() != '[') fail(what + " must be an array");
    ++pos_;
    std::vector<std::int64_t> values;
    skip_space();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return values;
    }
    while (true) {
      skip_space();
      values.push_back(parse_non_negative_integer(element));
      skip_space();
      if (!at_end() && peek() == ',') {
        ++pos_;
        continue;
      }
      expect(']', "',' or ']' in " + what);
      return values;
    }
  }

  /// A JSON number that must be an integer in [0, 2^63). The whole JSON number is scanned first, so that a
  /// float or a negative number is named as such rather than as a syntax error after its first digits.
  std::int64_t parse_non_negative_integer(const std::string& what) {
    const std::size_t start = pos_;
    const bool negative = !at_end() && peek() == '-';
    if (negative) ++pos_;
    if (at_end() || !is_digit(peek())) {
      pos_ = start;
      fail("expected " + what + " (a non-negative integer)");
    }
    const std::size_t digits_start = pos_;
    while (!at_end() && is_digit(peek())) ++pos_;
    const std::size_t digits_end = pos_;
    bool fractional = false;
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (at_end() || !is_digit(peek())) fail("a number needs digits after '.'");
      while (!at_end() && is_digit(peek())) ++pos_;
      fractional = true;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (at_end() || !is_digit(peek())) fail("a number needs digits in its exponent");
      while (!at_end() && is_digit(peek())) ++pos_;
      fractional = true;
    }
    const std::string literal = text_.substr(start, std::min<std::size_t>(pos_ - start, 40));
    const std::string shown = literal + (pos_ - start > 40 ? "..." : "");
    if (text_[digits_start] == '0' && digits_end - digits_start > 1) {
      pos_ = start;
      fail("the number " + shown + " has a leading zero, which JSON does not allow");
    }
    if (negative) {
      pos_ = start;
      fail(what + " must be non-negative, not " + shown);
    }
    if (fractional) {
      pos_ = start;
      fail(what + " must be an integer, not " + shown);
    }
    std::int64_t value = 0;
    for (std::size_t k = digits_start; k < digits_end; ++k) {
      const int digit = text_[k] - '0';
      if (value > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
        pos_ = start;
        fail(what + " " + shown + " overflows int64");
      }
      value = value * 10 + digit;
    }
    return value;
  }

  unsigned parse_hex4() {
    unsigned value = 0;
    for (int k = 0; k < 4; ++k, ++pos_) {
      if (at_end()) fail("the string ends inside a \\u escape");
      const char c = peek();
      unsigned digit = 0;
      if (c >= '0' && c <= '9') {
        digit = static_cast<unsigned>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        digit = static_cast<unsigned>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        digit = static_cast<unsigned>(c - 'A' + 10);
      } else {
        fail("a \\u escape needs four hex digits");
      }
      value = value * 16 + digit;
    }
    return value;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  /// A JSON string: every escape, \uXXXX pairs of surrogates joined into one code point, raw bytes checked to be
  /// UTF-8, control characters refused (JSON wants them escaped). Returns the UTF-8 text.
  std::string parse_string() {
    expect('"', "a string");
    std::string out;
    while (true) {
      if (at_end()) fail("unterminated string");
      const auto c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c < 0x20) fail("a control character in a string must be escaped");
      if (c >= 0x80) {
        const std::size_t length = utf8_sequence_length(text_, pos_);
        if (length == 0) fail("a string is not valid UTF-8");
        out.append(text_, pos_, length);
        pos_ += length;
        continue;
      }
      ++pos_;
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      if (at_end()) fail("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out += e;
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          unsigned cp = parse_hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail("a \\u escape is a low surrogate without a high one before it");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (text_.compare(pos_, 2, "\\u") != 0) fail("a \\u escape is a high surrogate without a low one after it");
            pos_ += 2;
            const unsigned low = parse_hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail("a \\u escape is a high surrogate without a low one after it");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          append_utf8(out, cp);
          break;
        }
        default:
          --pos_;
          fail("invalid escape in a string");
      }
    }
  }

  const std::string& text_;
  const char* fn_;
  const std::string& file_;
  std::size_t pos_ = 0;
};

/// A JSON string literal of UTF-8 text, escaped as serde_json does.
inline std::string json_quoted(const std::string& s) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

}  // namespace detail
QMATH_END_NAMESPACE  // qmath
