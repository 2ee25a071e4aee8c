// SPDX-License-Identifier: Apache-2.0
// tests/io/test_safetensors.cpp: the .safetensors reader and writer: round trips, files laid out by the reference
// serializer and by Python's json module (tests/data/gen_safetensors_data.py), and one test per validation rule.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "qmath/io/safetensors.hpp"
#include "support/sample_values.hpp"

namespace {

using qmath_test::sample_values;

using qmath::SafetensorsFile;
using qmath::SafetensorsTensor;

const std::string kDataDir = QMATH_TESTS_DIR "/data/";

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing test data " + path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

template <class T>
std::vector<std::uint8_t> bytes_of(const std::vector<T>& values) {
  std::vector<std::uint8_t> out(values.size() * sizeof(T));
  if (!out.empty()) std::memcpy(out.data(), static_cast<const void*>(values.data()), out.size());
  return out;
}

SafetensorsTensor make_tensor(const std::string& name, const std::string& dtype, std::vector<std::int64_t> shape,
                              std::vector<std::uint8_t> data) {
  SafetensorsTensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  t.data = std::move(data);
  return t;
}

std::string write_to_string(const std::vector<SafetensorsTensor>& tensors,
                            const std::map<std::string, std::string>& metadata = {}) {
  std::ostringstream out;
  qmath::write_safetensors(out, tensors, metadata);
  return out.str();
}

SafetensorsFile parse_string(const std::string& bytes, const std::string& name = "image.safetensors") {
  return qmath::parse_safetensors(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size(), name);
}

// ---- Round trips ---------------------------------------------------------------------------------------------

template <class T>
class SafetensorsRoundTrip : public ::testing::Test {};
using SafetensorsTypes =
    ::testing::Types<float, double, Eigen::half, Eigen::bfloat16, std::int8_t, std::uint8_t, std::int16_t,
                     std::uint16_t, std::int32_t, std::uint32_t, std::int64_t, std::uint64_t>;
struct SafetensorsTypeName {
  template <class T>
  static std::string GetName(int) {
    return qmath::safetensors_dtype<T>::kName;
  }
};
TYPED_TEST_SUITE(SafetensorsRoundTrip, SafetensorsTypes, SafetensorsTypeName);

TYPED_TEST(SafetensorsRoundTrip, ShapesThroughMemoryAndStream) {
  using T = TypeParam;
  const char* dtype = qmath::safetensors_dtype<T>::kName;
  const std::vector<std::vector<std::int64_t>> shapes = {{2, 3}, {5}, {}, {0, 3}, {2, 1, 4}};
  std::vector<SafetensorsTensor> tensors;
  std::vector<std::vector<T>> values;
  for (std::size_t k = 0; k < shapes.size(); ++k) {
    std::size_t n = 1;
    for (std::int64_t d : shapes[k]) n *= static_cast<std::size_t>(d);
    values.push_back(sample_values<T>(n));
    tensors.push_back(make_tensor("t" + std::to_string(k), dtype, shapes[k], bytes_of(values.back())));
  }
  const std::string bytes = write_to_string(tensors, {{"k", "v"}});
  std::uint64_t header_length = 0;
  for (int k = 7; k >= 0; --k) header_length = (header_length << 8) | static_cast<unsigned char>(bytes[k]);
  EXPECT_EQ(header_length % 8, 0u) << "the header is padded to 8 bytes, as the reference writes it";
  EXPECT_EQ(bytes[8], '{');

  std::istringstream in(bytes);
  for (const SafetensorsFile& f : {parse_string(bytes), qmath::read_safetensors(in, "stream")}) {
    ASSERT_EQ(f.tensors.size(), shapes.size());
    EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"k", "v"}}));
    for (std::size_t k = 0; k < shapes.size(); ++k) {
      const SafetensorsTensor& t = f.tensors[k];
      EXPECT_EQ(t.name, "t" + std::to_string(k));
      EXPECT_EQ(t.dtype, dtype);
      EXPECT_EQ(t.shape, shapes[k]);
      EXPECT_EQ(t.numel(), values[k].size());
      EXPECT_TRUE(t.holds<T>());
      EXPECT_EQ(t.values<T>(), values[k]);
      EXPECT_EQ(qmath::shape_of(t).dims, shapes[k]);
    }
  }
}

TEST(Safetensors, BoolAndFp8RoundTrip) {
  const std::vector<SafetensorsTensor> tensors = {
      make_tensor("mask", "BOOL", {2, 2}, {1, 0, 0, 1}),
      make_tensor("e4m3", "F8_E4M3", {3}, {0x38, 0x7E, 0xFF}),
      make_tensor("e5m2", "F8_E5M2", {3}, {0x3C, 0x7C, 0x80}),
  };
  const SafetensorsFile f = parse_string(write_to_string(tensors));
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors[0].values<std::uint8_t>(), (std::vector<std::uint8_t>{1, 0, 0, 1}));
  EXPECT_EQ(f.tensors[0].to_float(), (std::vector<float>{1.0f, 0.0f, 0.0f, 1.0f}));
  EXPECT_THROW(f.tensors[1].values<std::uint8_t>(), qmath::error) << "fp8 codes are not U8";
  const std::vector<float> e4m3 = f.tensors[1].to_float();
  EXPECT_EQ(e4m3[0], 1.0f);
  EXPECT_EQ(e4m3[1], 448.0f);
  EXPECT_TRUE(std::isnan(e4m3[2]));
  const std::vector<float> e5m2 = f.tensors[2].to_float();
  EXPECT_EQ(e5m2[0], 1.0f);
  EXPECT_EQ(e5m2[1], std::numeric_limits<float>::infinity());
  EXPECT_EQ(e5m2[2], 0.0f);
  EXPECT_TRUE(std::signbit(e5m2[2]));
}

TEST(Safetensors, NoTensorsAndEmptyTensorsSharingAnOffset) {
  EXPECT_TRUE(parse_string(write_to_string({})).tensors.empty());
  // Two empty tensors at offset 4 between two others: valid, and kept in header order among themselves.
  const std::vector<SafetensorsTensor> tensors = {
      make_tensor("a", "U8", {4}, {1, 2, 3, 4}), make_tensor("z_empty", "F32", {0}, {}),
      make_tensor("y_empty", "F32", {3, 0, 9223372036854775807}, {}), make_tensor("b", "U8", {1}, {5})};
  const SafetensorsFile f = parse_string(write_to_string(tensors));
  ASSERT_EQ(f.tensors.size(), 4u);
  EXPECT_EQ(f.tensors[1].name, "z_empty");
  EXPECT_EQ(f.tensors[2].name, "y_empty");
  EXPECT_EQ(f.tensors[2].numel(), 0u);
  EXPECT_EQ(f.tensors[3].values<std::uint8_t>(), std::vector<std::uint8_t>{5});
}

TEST(Safetensors, FilePathRoundTripAndFind) {
  const std::string path = ::testing::TempDir() + "qmath_safetensors_round_trip.safetensors";
  const std::vector<float> w = {1.5f, -2.0f};
  qmath::write_safetensors(path, {make_tensor("w", "F32", {2}, bytes_of(w))}, {{"format", "pt"}});
  const SafetensorsFile f = qmath::read_safetensors(path);
  ASSERT_NE(f.find("w"), nullptr);
  EXPECT_EQ(f.find("w")->values<float>(), w);
  EXPECT_EQ(f.find("missing"), nullptr);
  EXPECT_EQ(f.metadata.at("format"), "pt");
  std::remove(path.c_str());
}

// ---- Files laid out by the reference serializer and by Python -------------------------------------------------

TEST(SafetensorsFromPython, ReferenceLayoutEveryDtype) {
  const std::string path = kDataDir + "reference_mixed.safetensors";
  const SafetensorsFile f = qmath::read_safetensors(path);
  EXPECT_EQ(f.metadata, (std::map<std::string, std::string>{{"format", "pt"}, {"source", "qmath tests"}}));
  // File order: by element size, then name (as the generator lays it out).
  const std::vector<std::string> names = {"acc.i64",      "acc.u64",     "weight.f64", "acc.i32",    "acc.u32",
                                          "emb.\xC3\xA9", "empty",       "scalar",     "weight.f32", "codes.i16",
                                          "codes.u16",    "weight.bf16", "weight.f16", "codes.i8",   "codes.u8",
                                          "fp8.e4m3",     "fp8.e5m2",    "mask"};
  ASSERT_EQ(f.tensors.size(), names.size());
  for (std::size_t k = 0; k < names.size(); ++k) EXPECT_EQ(f.tensors[k].name, names[k]) << k;

  const auto get = [&](const std::string& name) -> const SafetensorsTensor& {
    const SafetensorsTensor* t = f.find(name);
    if (t == nullptr) throw std::runtime_error("no tensor " + name);
    return *t;
  };
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(get("weight.f32").shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(get("weight.f32").values<float>(), (std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f}));
  EXPECT_EQ(get("weight.f16").to_float(), (std::vector<float>{1.0f, -2.5f, 65504.0f, std::ldexp(1.0f, -24)}));
  EXPECT_EQ(get("weight.f16").values<Eigen::half>()[2], Eigen::half(65504.0f));
  // torch rounds -0.1 to the nearest bfloat16, -0.10009765625 (0xBDCD).
  EXPECT_EQ(get("weight.bf16").to_float(), (std::vector<float>{1.0f, -0.10009765625f, std::ldexp(1.0f, -133)}));
  EXPECT_EQ(Eigen::numext::bit_cast<std::uint16_t>(get("weight.bf16").values<Eigen::bfloat16>()[1]), 0xBDCD);
  EXPECT_EQ(get("weight.f64").values<double>(), (std::vector<double>{0.1, -2.5, 1e300}));
  EXPECT_EQ(get("weight.f64").to_float(), (std::vector<float>{0.1f, -2.5f, inf}));
  EXPECT_EQ(get("codes.i8").to_float(), (std::vector<float>{-128.0f, -1.0f, 0.0f, 127.0f}));
  EXPECT_EQ(get("codes.u8").values<std::uint8_t>(), (std::vector<std::uint8_t>{0, 1, 254, 255}));
  EXPECT_EQ(get("codes.i16").to_float(), (std::vector<float>{-32768.0f, 7.0f, 32767.0f}));
  EXPECT_EQ(get("codes.u16").values<std::uint16_t>(), (std::vector<std::uint16_t>{0, 65535}));
  // 2^24 + 1 and 2^31 - 1 are not floats: rounded to nearest.
  EXPECT_EQ(get("acc.i32").to_float(), (std::vector<float>{-2147483648.0f, 16777216.0f, 2147483648.0f}));
  EXPECT_EQ(get("acc.i32").values<std::int32_t>()[1], 16777217);
  EXPECT_EQ(get("acc.u32").to_float(), (std::vector<float>{4294967296.0f, 3.0f}));
  EXPECT_EQ(get("acc.i64").values<std::int64_t>(),
            (std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min(), 5}));
  EXPECT_EQ(get("acc.u64").to_float(), (std::vector<float>{18446744073709551616.0f}));
  EXPECT_EQ(get("mask").values<std::uint8_t>(), (std::vector<std::uint8_t>{1, 0, 0, 1}));
  EXPECT_EQ(get("fp8.e4m3").to_float(), (std::vector<float>{1.0f, 448.0f, std::ldexp(1.0f, -9), -1.0f}));
  EXPECT_EQ(get("fp8.e5m2").to_float(), (std::vector<float>{1.0f, 57344.0f, std::ldexp(1.0f, -16), inf}));
  EXPECT_TRUE(get("scalar").shape.empty());
  EXPECT_EQ(get("scalar").values<float>(), std::vector<float>{3.5f});
  EXPECT_EQ(get("empty").shape, (std::vector<std::int64_t>{0, 4}));
  EXPECT_TRUE(get("empty").to_float().empty());
  EXPECT_EQ(get("emb.\xC3\xA9").values<float>(), std::vector<float>{2.0f});
}

TEST(SafetensorsFromPython, WriterMatchesTheReferenceLayoutByteForByte) {
  const std::string path = kDataDir + "reference_mixed.safetensors";
  const SafetensorsFile f = qmath::read_safetensors(path);
  EXPECT_EQ(write_to_string(f.tensors, f.metadata), read_file_bytes(path));
}

TEST(SafetensorsFromPython, JsonDumpsEscapesAndOrder) {
  const std::string path = kDataDir + "python_escapes.safetensors";
  const SafetensorsFile f = qmath::read_safetensors(path);
  // The header lists the emoji tensor first; the data buffer holds "b" first.
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors[0].name, "b");
  EXPECT_EQ(f.tensors[1].name, "tab\tname");
  EXPECT_EQ(f.tensors[2].name, "\xF0\x9F\x98\x80.weight") << "\\ud83d\\ude00 is one code point, U+1F600";
  EXPECT_EQ(f.tensors[0].values<std::uint8_t>(), (std::vector<std::uint8_t>{1, 2, 3}));
  EXPECT_EQ(f.tensors[1].values<std::int32_t>(), std::vector<std::int32_t>{-7});
  EXPECT_EQ(f.tensors[2].to_float(), (std::vector<float>{0.5f, -0.25f}));
  EXPECT_EQ(f.metadata.at("description"), "line1\nline2 \"quoted\" back\\slash \xC3\xA9");
  // The in-memory parser and the stream reader agree with the file reader.
  const std::string bytes = read_file_bytes(path);
  EXPECT_EQ(parse_string(bytes).tensors[2].data, f.tensors[2].data);
}

TEST(Safetensors, MissingFileNamesThePath) {
  const std::string path = ::testing::TempDir() + "qmath_no_such_file.safetensors";
  try {
    qmath::read_safetensors(path);
    FAIL() << "a missing file was read";
  } catch (const qmath::error& e) {
    EXPECT_NE(std::string(e.what()).find("qmath::read_safetensors: '" + path + "': cannot open"), std::string::npos)
        << e.what();
  }
}

// ---- Malformed input, built in memory ------------------------------------------------------------------------

// A .safetensors image: the header length (8 bytes little-endian, `claimed_length` when given), header, data.
std::string st_image(const std::string& header, const std::string& data = "", long long claimed_length = -1) {
  const unsigned long long length =
      claimed_length >= 0 ? static_cast<unsigned long long>(claimed_length) : header.size();
  std::string out;
  for (int k = 0; k < 8; ++k) out += static_cast<char>((length >> (8 * k)) & 0xFF);
  return out + header + data;
}

// The in-memory parser and the stream reader must both throw qmath::error naming the input, on one line, with
// `keyword` in the message.
void expect_st_error(const std::string& bytes, const std::string& keyword) {
  const auto check = [&](const char* how, const std::string& expected_prefix, auto read) {
    try {
      read();
      ADD_FAILURE() << how << " accepted; expected an error about '" << keyword << "'";
    } catch (const qmath::error& e) {
      const std::string message = e.what();
      EXPECT_EQ(message.rfind(expected_prefix, 0), 0u) << message;
      EXPECT_NE(message.find(keyword), std::string::npos) << how << ": expected '" << keyword << "' in: " << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << "the message must be one line: " << message;
    }
  };
  check("parse_safetensors", "qmath::parse_safetensors: 'image.safetensors': ", [&] { parse_string(bytes); });
  check("read_safetensors", "qmath::read_safetensors: 'image.safetensors': ", [&] {
    std::istringstream in(bytes);
    qmath::read_safetensors(in, "image.safetensors");
  });
}

std::string entry(const std::string& name, const std::string& dtype, const std::string& shape,
                  const std::string& offsets) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":" + offsets + "}";
}

const std::string kGoodHeader = "{" + entry("a", "F32", "[2]", "[0,8]") + "}";
const std::string kGoodData(8, '\0');

// The image with tensor a's fields replaced.
std::string with_entry(const std::string& dtype, const std::string& shape, const std::string& offsets,
                       const std::string& data = kGoodData) {
  return st_image("{" + entry("a", dtype, shape, offsets) + "}", data);
}

TEST(SafetensorsMalformed, TheGoodImageReads) {
  // The baseline that the cases below break one thing of.
  EXPECT_EQ(parse_string(st_image(kGoodHeader, kGoodData)).tensors.at(0).values<float>(),
            (std::vector<float>{0.0f, 0.0f}));
}

TEST(SafetensorsMalformed, TruncatedLengthOrHeader) {
  expect_st_error("", "truncated: 0 bytes");
  expect_st_error(std::string("\x10\x00\x00", 3), "truncated: 3 bytes");
  expect_st_error(st_image(kGoodHeader, "", static_cast<long long>(kGoodHeader.size()) + 1), "truncated header");
  expect_st_error(st_image(kGoodHeader.substr(0, 10), "", static_cast<long long>(kGoodHeader.size())),
                  "truncated header");
}

TEST(SafetensorsMalformed, HugeHeaderLengthIsRefusedBeforeAllocating) {
  expect_st_error(st_image(kGoodHeader, kGoodData, 100000001), "exceeds the limit of 100000000 bytes");
  expect_st_error(st_image(kGoodHeader, kGoodData, std::numeric_limits<long long>::max()), "exceeds the limit");
  std::string all_ones(8, '\xFF');  // 2^64 - 1
  expect_st_error(all_ones + kGoodHeader, "exceeds the limit");
  // Within the limit but beyond the input: reported as truncated, reading only what is there.
  expect_st_error(st_image(kGoodHeader, kGoodData, 99999999), "truncated header");
}

TEST(SafetensorsMalformed, TruncatedOrExtraData) {
  expect_st_error(st_image(kGoodHeader, kGoodData.substr(0, 7)), "truncated data");
  expect_st_error(st_image(kGoodHeader, ""), "truncated data");
  expect_st_error(st_image(kGoodHeader, kGoodData + "x"), "after the last tensor");
  // A header length too long takes data into the header; too short cuts the JSON.
  expect_st_error(st_image(kGoodHeader, kGoodData, static_cast<long long>(kGoodHeader.size()) + 4), "bad header");
  expect_st_error(st_image(kGoodHeader, kGoodData, static_cast<long long>(kGoodHeader.size()) - 1), "bad header");
  // A tensor claiming 1 TiB over a few bytes of data.
  expect_st_error(with_entry("U8", "[1099511627776]", "[0,1099511627776]"), "truncated data");
}

TEST(SafetensorsMalformed, HeaderStart) {
  expect_st_error(st_image(""), "must start with '{'");
  expect_st_error(st_image(" " + kGoodHeader, kGoodData), "must start with '{'");
  expect_st_error(st_image("\n" + kGoodHeader, kGoodData), "must start with '{'");
  expect_st_error(st_image("[]"), "must start with '{'");
  expect_st_error(st_image("\xEF\xBB\xBF" + kGoodHeader, kGoodData), "must start with '{'");  // a UTF-8 BOM
}

TEST(SafetensorsMalformed, BadJson) {
  const std::string a = entry("a", "F32", "[2]", "[0,8]");
  expect_st_error(st_image("{" + a, kGoodData), "expected ',' or '}'");
  expect_st_error(st_image("{" + a + ",}", kGoodData), "expected a key string");  // trailing comma
  expect_st_error(st_image("{" + a + " " + a.substr(0, 3) + "}", kGoodData), "expected ',' or '}'");
  expect_st_error(st_image("{\"a\" {\"dtype\":\"F32\"}}", kGoodData), "expected ':'");
  expect_st_error(st_image("{a:{}}", kGoodData), "expected a key string");
  expect_st_error(st_image("{'a':{}}", kGoodData), "expected a key string");
  expect_st_error(st_image(kGoodHeader + "x", kGoodData), "unexpected text after");
  expect_st_error(st_image(kGoodHeader + "}", kGoodData), "unexpected text after");
  expect_st_error(st_image(kGoodHeader + std::string(1, '\0'), kGoodData), "unexpected text after");
  expect_st_error(with_entry("F32", "[2,]", "[0,8]"), "expected a dim");
  expect_st_error(with_entry("F32", "[,2]", "[0,8]"), "expected a dim");
  expect_st_error(with_entry("F32", "[2 2]", "[0,8]"), "expected ',' or ']'");
  expect_st_error(st_image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2"), "expected ',' or ']'");
  expect_st_error(with_entry("F32", "[true]", "[0,8]"), "expected a dim");
  expect_st_error(with_entry("F32", "[NaN]", "[0,8]"), "expected a dim");
  expect_st_error(with_entry("F32", "[+2]", "[0,8]"), "expected a dim");
  expect_st_error(with_entry("F32", "[\"2\"]", "[0,8]"), "expected a dim");
  expect_st_error(with_entry("F32", "[2.]", "[0,8]"), "digits after '.'");
  expect_st_error(with_entry("F32", "[2e]", "[0,8]"), "digits in its exponent");
  expect_st_error(with_entry("F32", "2", "[0,8]"), "must be an array");
  expect_st_error(with_entry("F32", "null", "[0,8]"), "must be an array");
  expect_st_error(st_image("{\"a\":{\"dtype\":F32,\"shape\":[2],\"data_offsets\":[0,8]}}", kGoodData),
                  "\"dtype\" must be a string");
  expect_st_error(st_image("{\"a\":[]}", kGoodData), "must be an object");
  expect_st_error(st_image("{\"a\":\"F32\"}", kGoodData), "must be an object");
  // Whitespace that JSON does not allow: a vertical tab, a form feed, a non-breaking space.
  expect_st_error(st_image("{\v" + a + "}", kGoodData), "expected a key string");
  expect_st_error(st_image("{\f" + a + "}", kGoodData), "expected a key string");
  expect_st_error(st_image("{\xC2\xA0" + a + "}", kGoodData), "expected a key string");
}

TEST(SafetensorsMalformed, ValidJsonVariants) {
  // Whitespace everywhere JSON allows it, every escape, uppercase hex, "__metadata__" null or empty, field order.
  const std::string header =
      "{ \t\r\n\"__metadata__\" : { \"k\\/\\b\\f\\n\\r\\t\\\"\\\\\" : \"\\u00E9\\u00e9\\u0000\" } ,\n"
      "  \"a\\u0041\" : { \"data_offsets\" : [ 0 , 8 ] , \"shape\" : [ 2 ] , \"dtype\" : \"F32\" } }\n\t\r ";
  const SafetensorsFile f = parse_string(st_image(header, kGoodData));
  ASSERT_EQ(f.tensors.size(), 1u);
  EXPECT_EQ(f.tensors[0].name, "aA");
  EXPECT_EQ(f.metadata.at("k/\b\f\n\r\t\"\\"), std::string("\xC3\xA9\xC3\xA9\0", 5));
  EXPECT_TRUE(parse_string(st_image("{\"__metadata__\":null," + kGoodHeader.substr(1), kGoodData)).metadata.empty());
  EXPECT_TRUE(parse_string(st_image("{\"__metadata__\":{}}")).tensors.empty());
  EXPECT_TRUE(parse_string(st_image("{}")).tensors.empty());
  EXPECT_EQ(parse_string(with_entry("F32", "[]", "[0,4]", std::string(4, '\0'))).tensors[0].numel(), 1u);
  EXPECT_EQ(parse_string(with_entry("F32", "[0]", "[0,0]", "")).tensors[0].numel(), 0u);
  EXPECT_EQ(parse_string(with_entry("U8", "[0]", "[0,0]", "")).tensors[0].to_float().size(), 0u);
}

TEST(SafetensorsMalformed, StringEscapesAndUtf8) {
  const auto named = [](const std::string& json_name) {
    return st_image("{\"" + json_name + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", kGoodData);
  };
  expect_st_error(named("a\\x41"), "invalid escape");
  expect_st_error(named("a\\'"), "invalid escape");
  expect_st_error(named("a\\U00e9"), "invalid escape");
  expect_st_error(named("a\\u12"), "four hex digits");
  expect_st_error(named("a\\u12G4"), "four hex digits");
  expect_st_error(st_image("{\"a\\u12"), "inside a \\u escape");
  expect_st_error(st_image("{\"a\\"), "unterminated string");
  expect_st_error(st_image("{\"abc"), "unterminated string");
  expect_st_error(named("\\ud83d"), "high surrogate without a low one");
  expect_st_error(named("\\ud83dx"), "high surrogate without a low one");
  expect_st_error(named("\\ud83d\\u0041"), "high surrogate without a low one");
  expect_st_error(named("\\ud83d\\ud83d"), "high surrogate without a low one");
  expect_st_error(named("\\ude00"), "low surrogate without a high one");
  expect_st_error(named("tab\tname"), "control character");
  expect_st_error(named(std::string("nul\0", 4)), "control character");
  expect_st_error(named("\xC0\x80"), "not valid UTF-8");          // overlong NUL
  expect_st_error(named("\xE0\x80\xAF"), "not valid UTF-8");      // overlong '/'
  expect_st_error(named("\xED\xA0\x80"), "not valid UTF-8");      // an encoded surrogate
  expect_st_error(named("\xF4\x90\x80\x80"), "not valid UTF-8");  // above U+10FFFF
  expect_st_error(named("\xF5\x80\x80\x80"), "not valid UTF-8");
  expect_st_error(named("\xFF"), "not valid UTF-8");
  expect_st_error(named("\x80"), "not valid UTF-8");
  expect_st_error(named("\xE2\x82"), "not valid UTF-8");        // cut short by the closing quote
  expect_st_error(st_image("{\"\xE2\x82"), "not valid UTF-8");  // cut short by the end of the header
  // The longest valid forms do read.
  EXPECT_EQ(parse_string(named("\xF4\x8F\xBF\xBF\xEF\xBF\xBF\xDF\xBF")).tensors[0].name,
            "\xF4\x8F\xBF\xBF\xEF\xBF\xBF\xDF\xBF");
  EXPECT_EQ(parse_string(named("\\udbff\\udfff")).tensors[0].name, "\xF4\x8F\xBF\xBF");
}

TEST(SafetensorsMalformed, IntegersForDimsAndOffsets) {
  expect_st_error(with_entry("F32", "[-2]", "[0,8]"), "must be non-negative, not -2");
  expect_st_error(with_entry("F32", "[-0]", "[0,8]"), "must be non-negative");
  expect_st_error(with_entry("F32", "[2.0]", "[0,8]"), "must be an integer, not 2.0");
  expect_st_error(with_entry("F32", "[2e0]", "[0,8]"), "must be an integer, not 2e0");
  expect_st_error(with_entry("F32", "[1E+1]", "[0,8]"), "must be an integer");
  expect_st_error(with_entry("F32", "[02]", "[0,8]"), "leading zero");
  expect_st_error(with_entry("F32", "[9223372036854775808]", "[0,8]"), "overflows int64");
  expect_st_error(with_entry("F32", "[" + std::string(500, '9') + "]", "[0,8]"), "overflows int64");
  expect_st_error(with_entry("F32", "[2]", "[-8,0]"), "an offset of \"data_offsets\" must be non-negative");
  expect_st_error(with_entry("F32", "[2]", "[0,8.5]"), "must be an integer");
  expect_st_error(with_entry("F32", "[2]", "[0,18446744073709551624]"), "overflows int64");
  expect_st_error(with_entry("F32", "[2]", "[8]"), "two offsets [begin, end], not 1");
  expect_st_error(with_entry("F32", "[2]", "[0,8,8]"), "two offsets [begin, end], not 3");
  expect_st_error(with_entry("F32", "[2]", "[]"), "two offsets [begin, end], not 0");
  expect_st_error(with_entry("F32", "[2]", "{}"), "must be an array");
  // The largest int64 is a valid number (the layout checks then refuse it).
  expect_st_error(with_entry("U8", "[9223372036854775807]", "[0,9223372036854775807]"), "truncated data");
}

TEST(SafetensorsMalformed, ByteCountsAndOffsets) {
  // end - begin must be numel * itemsize.
  expect_st_error(with_entry("F32", "[3]", "[0,8]"), "hold 8 bytes, but F32 [3] needs 12");
  expect_st_error(with_entry("F16", "[2]", "[0,8]"), "hold 8 bytes, but F16 [2] needs 4");
  expect_st_error(with_entry("F32", "[]", "[0,8]"), "needs 4");
  expect_st_error(with_entry("F32", "[2]", "[8,0]"), "end before they begin");
  // numel * itemsize overflows 64 bits.
  expect_st_error(with_entry("F32", "[4611686018427387904]", "[0,8]"), "overflows");
  expect_st_error(with_entry("U8", "[4294967296,4294967296]", "[0,8]"), "overflows");
  expect_st_error(with_entry("F64", "[3037000500,3037000500]", "[0,8]"), "overflows");
  // The first tensor must start at 0.
  expect_st_error(with_entry("F32", "[2]", "[4,12]", std::string(12, '\0')), "bytes [0, 4) of the data buffer");
}

TEST(SafetensorsMalformed, OverlapsHolesAndCoverage) {
  const auto two = [](const std::string& a_offsets, const std::string& b_offsets, std::size_t data_bytes) {
    return st_image("{" + entry("a", "U8", "[4]", a_offsets) + "," + entry("b", "U8", "[4]", b_offsets) + "}",
                    std::string(data_bytes, '\0'));
  };
  EXPECT_EQ(parse_string(two("[4,8]", "[0,4]", 8)).tensors.at(0).name, "b") << "file order follows the offsets";
  expect_st_error(two("[0,4]", "[2,6]", 8), "overlaps tensor 'a'");
  expect_st_error(two("[0,4]", "[0,4]", 8), "overlaps");
  expect_st_error(two("[2,6]", "[0,4]", 8), "overlaps tensor 'b'");
  expect_st_error(two("[0,4]", "[5,9]", 9), "bytes [4, 5) of the data buffer belong to no tensor");
  expect_st_error(two("[0,4]", "[4,8]", 9), "1 bytes after the last tensor");
  expect_st_error(two("[0,4]", "[4,8]", 7), "truncated data: the tensors need 8 bytes");
  // An empty tensor inside another one's bytes.
  expect_st_error(st_image("{" + entry("a", "U8", "[4]", "[0,4]") + "," + entry("e", "U8", "[0]", "[2,2]") + "}",
                           std::string(4, '\0')),
                  "overlaps");
  // No tensors but data bytes.
  expect_st_error(st_image("{}", "x"), "1 bytes after the last tensor");
}

TEST(SafetensorsMalformed, Dtypes) {
  for (const char* dtype : {"F4", "F6_E2M3", "F8_E8M0", "C64", "f32", "float32", "", "F32 "}) {
    try {
      parse_string(with_entry(dtype, "[2]", "[0,8]"));
      ADD_FAILURE() << dtype << " was accepted";
    } catch (const qmath::error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find("tensor 'a': unsupported dtype '" + std::string(dtype) + "'"), std::string::npos)
          << message;
    }
  }
  // Every name is exactly the reference's, and each has its itemsize.
  const std::vector<std::pair<std::string, int>> sizes = {
      {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F64", 8}, {"I8", 1},   {"U8", 1},      {"I16", 2},    {"U16", 2},
      {"I32", 4}, {"U32", 4}, {"I64", 8},  {"U64", 8}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  for (const auto& ds : sizes) {
    const std::string bytes = std::to_string(3 * ds.second);
    EXPECT_EQ(parse_string(with_entry(ds.first, "[3]", "[0," + bytes + "]", std::string(3 * ds.second, '\0')))
                  .tensors.at(0)
                  .dtype,
              ds.first);
  }
}

TEST(SafetensorsMalformed, BoolBytes) {
  expect_st_error(with_entry("BOOL", "[3]", "[0,3]", std::string("\x01\x02\x00", 3)), "BOOL element 1 is 2");
  expect_st_error(with_entry("BOOL", "[1]", "[0,1]", "\xFF"), "BOOL element 0 is 255");
}

TEST(SafetensorsMalformed, DuplicateKeys) {
  const std::string a = entry("a", "F32", "[2]", "[0,8]");
  expect_st_error(st_image("{" + a + "," + entry("a", "F32", "[0]", "[8,8]") + "}", kGoodData),
                  "the tensor name 'a' appears twice");
  expect_st_error(
      st_image("{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", kGoodData),
      "tensor 'a': the key \"dtype\" appears twice");
  expect_st_error(st_image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"shape\":[2],\"data_offsets\":[0,8]}}", kGoodData),
                  "\"shape\" appears twice");
  expect_st_error(
      st_image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"data_offsets\":[0,8]}}", kGoodData),
      "\"data_offsets\" appears twice");
  expect_st_error(st_image("{\"__metadata__\":{},\"__metadata__\":{}," + a + "}", kGoodData),
                  "\"__metadata__\" appears twice");
  expect_st_error(st_image("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}," + a + "}", kGoodData),
                  "\"__metadata__\" key 'k' appears twice");
  // The same name spelled two ways is the same key.
  expect_st_error(st_image("{" + a + "," + entry("\\u0061", "F32", "[0]", "[8,8]") + "}", kGoodData), "twice");
}

TEST(SafetensorsMalformed, MissingAndUnknownFields) {
  expect_st_error(st_image("{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", kGoodData), "tensor 'a' has no \"dtype\"");
  expect_st_error(st_image("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", kGoodData), "has no \"shape\"");
  expect_st_error(st_image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", kGoodData), "has no \"data_offsets\"");
  expect_st_error(st_image("{\"a\":{}}", kGoodData), "has no \"dtype\"");
  expect_st_error(st_image("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"offset\":0}}", kGoodData),
                  "tensor 'a': unexpected key 'offset'");
}

TEST(SafetensorsMalformed, Metadata) {
  const std::string a = entry("a", "F32", "[2]", "[0,8]");
  expect_st_error(st_image("{\"__metadata__\":{\"k\":1}," + a + "}", kGoodData), "key 'k' must be a string");
  expect_st_error(st_image("{\"__metadata__\":{\"k\":null}," + a + "}", kGoodData), "must be a string");
  expect_st_error(st_image("{\"__metadata__\":[\"k\"]," + a + "}", kGoodData), "must be an object of strings");
  expect_st_error(st_image("{\"__metadata__\":\"k\"," + a + "}", kGoodData), "must be an object of strings");
  expect_st_error(st_image("{\"__metadata__\":nul," + a + "}", kGoodData), "must be an object of strings");
}

TEST(SafetensorsMalformed, DeepNestingIsRefusedWithoutRecursion) {
  // A million brackets where the schema allows none: one clean error each, no stack growth.
  const std::string deep(1000000, '[');
  expect_st_error(st_image("{\"a\":" + deep), "must be an object");
  expect_st_error(st_image("{\"a\":{\"dtype\":\"F32\",\"shape\":" + deep), "expected a dim");
  expect_st_error(st_image("{\"a\":{\"dtype\":\"F32\",\"data_offsets\":" + deep), "expected an offset");
  expect_st_error(st_image("{\"__metadata__\":{\"k\":" + deep), "must be a string");
  expect_st_error(st_image("{\"a\":{\"dtype\":" + std::string(1000000, '{')), "\"dtype\" must be a string");
  expect_st_error(st_image(std::string(1000000, '{')), "expected a key string");
}

TEST(SafetensorsMalformed, NamesInMessagesAreShownOnOneLine) {
  try {
    parse_string(st_image("{\"x\\ny\":{\"dtype\":\"Q\",\"shape\":[],\"data_offsets\":[0,0]}}"));
    FAIL() << "accepted";
  } catch (const qmath::error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'x\\x0ay': unsupported dtype 'Q'"), std::string::npos) << e.what();
  }
  try {
    parse_string(st_image("{\"" + std::string(300, 'n') + "\":{\"dtype\":\"Q\",\"shape\":[],\"data_offsets\":[0,0]}}"));
    FAIL() << "accepted";
  } catch (const qmath::error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor '" + std::string(100, 'n') + "...': unsupported"), std::string::npos)
        << e.what();
  }
}

TEST(SafetensorsMalformed, NullPointer) {
  EXPECT_THROW(qmath::parse_safetensors(nullptr, 8, "null"), qmath::error);
  EXPECT_THROW(qmath::parse_safetensors(nullptr, 0, "null"), qmath::error);  // too short for the length
}

// ---- Values, to_float and the writer's checks ------------------------------------------------------------------

TEST(Safetensors, ValuesOfTheWrongTypeOrSizeThrow) {
  SafetensorsTensor t = make_tensor("w", "F32", {2}, bytes_of(std::vector<float>{1.0f, 2.0f}));
  EXPECT_THROW(t.values<std::int32_t>(), qmath::error);
  EXPECT_THROW(t.values<double>(), qmath::error);
  EXPECT_THROW(t.values<Eigen::half>(), qmath::error);
  t.data.pop_back();
  EXPECT_THROW(t.values<float>(), qmath::error);
  EXPECT_THROW(t.to_float(), qmath::error);
  t = make_tensor("w", "F4", {2}, {0});
  EXPECT_THROW(t.to_float(), qmath::error);
  t = make_tensor("w", "BOOL", {2}, {1, 3});
  EXPECT_THROW(t.to_float(), qmath::error);
  t = make_tensor("w", "U8", {-1}, {});
  EXPECT_THROW(t.numel(), qmath::error);
  EXPECT_THROW(t.to_float(), qmath::error);
  t = make_tensor("w", "U8", {0, -1}, {});
  EXPECT_THROW(t.to_float(), qmath::error) << "a negative dim after a zero one";
}

TEST(Safetensors, F64ToFloatRoundsAtTheEdgeOfTheFloatRange) {
  const double max = std::numeric_limits<float>::max();
  const double half_ulp = std::ldexp(1.0, 103);  // FLT_MAX's ulp is 2^104
  const std::vector<double> x = {max,
                                 max + half_ulp / 2,
                                 std::nextafter(max + half_ulp, 0.0),
                                 max + half_ulp,
                                 -(max + half_ulp),
                                 1e300,
                                 std::numeric_limits<double>::infinity(),
                                 std::ldexp(1.0, -150),
                                 std::ldexp(3.0, -151)};
  const std::vector<float> got = make_tensor("x", "F64", {9}, bytes_of(x)).to_float();
  const float fmax = std::numeric_limits<float>::max(), inf = std::numeric_limits<float>::infinity();
  // Halfway between FLT_MAX and 2^128 ties to even (2^128: infinity); below it rounds to FLT_MAX. 2^-150 ties
  // to even (0); 1.5 * 2^-150 rounds up to the smallest subnormal.
  EXPECT_EQ(got, (std::vector<float>{fmax, fmax, fmax, inf, -inf, inf, inf, 0.0f, std::ldexp(1.0f, -149)}));
  const std::vector<double> nan = {std::numeric_limits<double>::quiet_NaN()};
  EXPECT_TRUE(std::isnan(make_tensor("x", "F64", {1}, bytes_of(nan)).to_float()[0]));
}

TEST(SafetensorsWrite, BadArgumentsThrowBeforeWriting) {
  const std::vector<std::uint8_t> four(4, 0);
  const auto expect_rejected = [&](const std::vector<SafetensorsTensor>& tensors,
                                   const std::map<std::string, std::string>& metadata, const std::string& keyword) {
    std::ostringstream out;
    try {
      qmath::write_safetensors(out, tensors, metadata, "out.safetensors");
      ADD_FAILURE() << "accepted; expected '" << keyword << "'";
    } catch (const qmath::error& e) {
      EXPECT_NE(std::string(e.what()).find("qmath::write_safetensors: 'out.safetensors': "), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(keyword), std::string::npos) << e.what();
    }
    EXPECT_TRUE(out.str().empty()) << keyword;
  };
  expect_rejected({make_tensor("a", "F4", {4}, four)}, {}, "unsupported dtype 'F4'");
  expect_rejected({make_tensor("a", "F32", {2}, four)}, {}, "data holds 4 bytes, F32 [2] needs 8");
  expect_rejected({make_tensor("a", "F32", {-1}, four)}, {}, "negative dim");
  expect_rejected({make_tensor("a", "U8", {4611686018427387904, 4}, four)}, {}, "overflows");
  expect_rejected({make_tensor("a", "U8", {4}, four), make_tensor("a", "U8", {4}, four)}, {}, "appears twice");
  expect_rejected({make_tensor("__metadata__", "U8", {4}, four)}, {}, "reserved");
  expect_rejected({make_tensor("a\xFF", "U8", {4}, four)}, {}, "not valid UTF-8");
  expect_rejected({make_tensor("a", "BOOL", {4}, {0, 1, 2, 1})}, {}, "BOOL element 2 is 2");
  expect_rejected({}, {{"k", "\xC3"}}, "not valid UTF-8");
  expect_rejected({}, {{"\xC3", "v"}}, "not valid UTF-8");

  const std::string path = ::testing::TempDir() + "qmath_safetensors_rejected.safetensors";
  std::remove(path.c_str());
  EXPECT_THROW(qmath::write_safetensors(path, {make_tensor("a", "F32", {2}, four)}), qmath::error);
  EXPECT_FALSE(file_exists(path)) << "a rejected write must leave no file";
  EXPECT_THROW(qmath::write_safetensors(::testing::TempDir() + "no/such/dir/x.safetensors", {}), qmath::error);
}

TEST(SafetensorsWrite, NamesAreEscapedAndReadBack) {
  const std::string name = std::string("q\"b\\s/\b\f\n\r\t\x01\x1F\x7F\0z", 16) + "\xF0\x9F\x98\x80";
  const std::string bytes = write_to_string({make_tensor(name, "U8", {1}, {7})}, {{name, name}});
  EXPECT_NE(bytes.find("\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7F\\u0000z\xF0\x9F\x98\x80\""), std::string::npos)
      << "escaped as serde_json does";
  const SafetensorsFile f = parse_string(bytes);
  EXPECT_EQ(f.tensors.at(0).name, name);
  EXPECT_EQ(f.metadata.at(name), name);
}

}  // namespace
