// SPDX-License-Identifier: Apache-2.0
// tools/qmath/params_file.hpp: the JSON file of quantization parameters that `qmath quantize` writes (with
// nlohmann-json) and `qmath dequantize` reads, with a strict reader for exactly that format.
//
//   {
//     "dtype": "int8", "profile": "pytorch", "scheme": "affine", "granularity": "channel",
//     "axis": 0, "group_size": 0, "qmin": -128, "qmax": 127,
//     "scale": [0.00630343659, ...], "zero_point": [-13, ...]
//   }
//
// The reader takes one JSON object whose members are exactly these ten keys, in any order, each once; values are
// strings, integers, or arrays of numbers (no nesting, no escapes in strings, no true/false/null): stricter than
// a general JSON parser, which would take the last of two equal keys in silence. Scales are written as the
// shortest decimal that reads back as the same float.
#pragma once

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tool.hpp"

namespace qmath_tool {

/// The parameters file, field for field. Strings are validated by the CLI, which knows the allowed names.
struct ParamsFile {
  std::string dtype;        ///< int8, uint8, int16, uint16, int32, int4, uint4
  std::string profile;      ///< pytorch, onnx, tflite
  std::string scheme;       ///< affine, symmetric, or explicit (given with --scale)
  std::string granularity;  ///< tensor, channel, group
  std::int64_t axis = 0;
  std::int64_t group_size = 0;
  std::int64_t qmin = 0, qmax = 0;
  std::vector<float> scale;
  std::vector<std::int64_t> zero_point;
};

namespace json_detail {

/// Strict integer: optional '-', digits, nothing else, within int64.
inline bool parse_int64(const std::string& text, std::int64_t& out) {
  std::size_t i = text.size() > 0 && text[0] == '-' ? 1 : 0;
  if (i == text.size()) return false;
  std::uint64_t magnitude = 0;
  const std::uint64_t limit = text[0] == '-' ? std::uint64_t{1} << 63 : (std::uint64_t{1} << 63) - 1;
  for (; i < text.size(); ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    const auto digit = static_cast<std::uint64_t>(text[i] - '0');
    if (magnitude > (limit - digit) / 10) return false;
    magnitude = magnitude * 10 + digit;
  }
  out = text[0] == '-' ? static_cast<std::int64_t>(0 - magnitude) : static_cast<std::int64_t>(magnitude);
  return true;
}

/// Strict finite float: the whole text must be a number strtof reads, without spaces, and its value must be
/// finite as a float (1e39 is refused rather than turned into inf; 1e-50 reads as 0, which the checks of the
/// parameters then refuse as a scale).
inline bool parse_finite_float(const std::string& text, float& out) {
  if (text.empty() || std::isspace(static_cast<unsigned char>(text[0]))) return false;
  errno = 0;
  char* end = nullptr;
  const float value = std::strtof(text.c_str(), &end);
  if (end != text.c_str() + text.size() || !std::isfinite(value)) return false;
  out = value;
  return true;
}

struct Value {
  enum class kind { string, number, array } type;
  std::string text;                ///< the string, or the number's token
  std::vector<std::string> items;  ///< the numbers' tokens of an array
};

class Reader {
 public:
  Reader(const std::string& text, const std::string& name) : text_(text), name_(name) {}

  std::map<std::string, Value> parse_object() {
    std::map<std::string, Value> members;
    skip_space();
    expect('{', "expected '{' at the start (a JSON object)");
    skip_space();
    if (peek() != '}') {
      for (;;) {
        skip_space();
        const std::string key = parse_string("a key in double quotes");
        skip_space();
        expect(':', "expected ':' after \"" + key + "\"");
        skip_space();
        Value value = parse_value(key);
        if (!members.emplace(key, std::move(value)).second) fail("the key \"" + key + "\" appears twice");
        skip_space();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        if (peek() == '}') break;
        fail("expected ',' or '}' after the value of \"" + key + "\"");
      }
    }
    ++pos_;
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the closing '}'");
    return members;
  }

  [[noreturn]] void fail(const std::string& problem) const {
    throw cli_error("'" + name_ + "': byte " + std::to_string(pos_) + ": " + problem);
  }

 private:
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool at_end() const { return pos_ >= text_.size(); }
  void skip_space() {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  void expect(char c, const std::string& problem) {
    if (at_end() || text_[pos_] != c) fail(problem);
    ++pos_;
  }

  std::string parse_string(const std::string& what) {
    if (at_end() || text_[pos_] != '"') fail("expected " + what);
    const std::size_t begin = ++pos_;
    while (!at_end() && text_[pos_] != '"') {
      if (text_[pos_] == '\\') fail("escapes in strings are not supported");
      if (static_cast<unsigned char>(text_[pos_]) < 0x20) fail("control character in a string");
      ++pos_;
    }
    if (at_end()) fail("unterminated string");
    return text_.substr(begin, pos_++ - begin);
  }

  // A JSON number token: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
  std::string parse_number() {
    const std::size_t begin = pos_;
    const auto digits = [&] {
      const std::size_t start = pos_;
      while (!at_end() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ - start;
    };
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (digits() == 0) {
      fail("expected a number");
    }
    if (peek() == '.') {
      ++pos_;
      if (digits() == 0) fail("expected digits after '.'");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (digits() == 0) fail("expected digits in the exponent");
    }
    if (!at_end() &&
        ((text_[pos_] >= '0' && text_[pos_] <= '9') || std::isalpha(static_cast<unsigned char>(text_[pos_]))))
      fail("malformed number");
    return text_.substr(begin, pos_ - begin);
  }

  Value parse_value(const std::string& key) {
    Value v;
    if (peek() == '"') {
      v.type = Value::kind::string;
      v.text = parse_string("a string");
    } else if (peek() == '[') {
      v.type = Value::kind::array;
      ++pos_;
      skip_space();
      if (peek() != ']') {
        for (;;) {
          skip_space();
          v.items.push_back(parse_number());
          skip_space();
          if (peek() == ',') {
            ++pos_;
            continue;
          }
          if (peek() == ']') break;
          fail("expected ',' or ']' in the array \"" + key + "\"");
        }
      }
      ++pos_;
    } else if (peek() == '-' || (peek() >= '0' && peek() <= '9')) {
      v.type = Value::kind::number;
      v.text = parse_number();
    } else {
      fail("the value of \"" + key + "\" must be a string, a number or an array of numbers");
    }
    return v;
  }

  const std::string& text_;
  const std::string& name_;
  std::size_t pos_ = 0;
};

}  // namespace json_detail

/// The file's text, as `qmath quantize` writes it: the keys in a fixed order, one per line.
inline std::string params_to_json(const ParamsFile& p) {
  nlohmann::ordered_json j;
  j["dtype"] = p.dtype;
  j["profile"] = p.profile;
  j["scheme"] = p.scheme;
  j["granularity"] = p.granularity;
  j["axis"] = p.axis;
  j["group_size"] = p.group_size;
  j["qmin"] = p.qmin;
  j["qmax"] = p.qmax;
  // Each scale as the shortest decimal that reads back as the same float (a double would print 17 digits).
  nlohmann::ordered_json scales = nlohmann::ordered_json::array();
  for (float s : p.scale) {
    std::string text;
    for (int digits = 6; digits <= 9; ++digits) {
      char buffer[32];
      std::snprintf(buffer, sizeof(buffer), "%.*g", digits, static_cast<double>(s));
      text = buffer;
      if (std::strtof(buffer, nullptr) == s) break;
    }
    scales.push_back(nlohmann::ordered_json::parse(text));
  }
  j["scale"] = scales;
  j["zero_point"] = p.zero_point;
  std::string text = j.dump(2);
  return text + "\n";
}

/// Parses the text of a parameters file; `name` is what error messages call it.
/// @throws cli_error naming the file and the problem.
inline ParamsFile params_from_json(const std::string& text, const std::string& name) {
  json_detail::Reader reader(text, name);
  std::map<std::string, json_detail::Value> members = reader.parse_object();
  const auto problem = [&](const std::string& what) { return cli_error("'" + name + "': " + what); };
  const auto take = [&](const char* key, json_detail::Value::kind type) {
    const auto it = members.find(key);
    if (it == members.end()) throw problem(std::string("missing \"") + key + "\"");
    if (it->second.type != type) {
      const char* wanted = type == json_detail::Value::kind::string   ? "a string"
                           : type == json_detail::Value::kind::number ? "an integer"
                                                                      : "an array";
      throw problem(std::string("\"") + key + "\" must be " + wanted);
    }
    json_detail::Value value = std::move(it->second);
    members.erase(it);
    return value;
  };
  const auto integer = [&](const char* key, const std::string& token) {
    std::int64_t value = 0;
    if (!json_detail::parse_int64(token, value))
      throw problem(std::string("\"") + key + "\" must hold integers within int64 (got " + token + ")");
    return value;
  };

  ParamsFile p;
  p.dtype = take("dtype", json_detail::Value::kind::string).text;
  p.profile = take("profile", json_detail::Value::kind::string).text;
  p.scheme = take("scheme", json_detail::Value::kind::string).text;
  p.granularity = take("granularity", json_detail::Value::kind::string).text;
  p.axis = integer("axis", take("axis", json_detail::Value::kind::number).text);
  p.group_size = integer("group_size", take("group_size", json_detail::Value::kind::number).text);
  p.qmin = integer("qmin", take("qmin", json_detail::Value::kind::number).text);
  p.qmax = integer("qmax", take("qmax", json_detail::Value::kind::number).text);
  for (const std::string& token : take("scale", json_detail::Value::kind::array).items) {
    float value = 0;
    if (!json_detail::parse_finite_float(token, value))
      throw problem("\"scale\" holds " + token + ", which is not a finite float");
    p.scale.push_back(value);
  }
  for (const std::string& token : take("zero_point", json_detail::Value::kind::array).items)
    p.zero_point.push_back(integer("zero_point", token));
  if (!members.empty()) throw problem("unexpected key \"" + members.begin()->first + "\"");
  if (p.scale.empty()) throw problem("\"scale\" is empty");
  if (p.scale.size() != p.zero_point.size())
    throw problem("inconsistent parameters: " + std::to_string(p.scale.size()) + " scales but " +
                  std::to_string(p.zero_point.size()) + " zero points");
  return p;
}

inline ParamsFile read_params_file(const std::string& path) {
  check_readable_file(path, "parameters file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw cli_error("cannot open parameters file '" + path + "'");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw cli_error("cannot read parameters file '" + path + "'");
  return params_from_json(text, path);
}

inline void write_params_file(const std::string& path, const ParamsFile& p) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw cli_error("cannot open '" + path + "' for writing the parameters");
  const std::string text = params_to_json(p);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.close();
  if (!out) throw cli_error("writing '" + path + "' failed");
}

}  // namespace qmath_tool
