// SPDX-License-Identifier: Apache-2.0
// tests/io/test_npy.cpp: the .npy reader and writer: round trips, files written by NumPy, malformed input.
//
// tests/data/*.npy were written by NumPy 1.24 (/usr/bin/python3) with tests/data/gen_npy_data.py, which says what
// each holds. truncated_4x6.npy is the first 138 bytes of np.save of a (4, 6) float32 array (header + 10 data
// bytes).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "qmath/io/npy.hpp"
#include "support/sample_values.hpp"

namespace {

using qmath_test::sample_values;

using qmath::NpyArray;

const std::string kDataDir = QMATH_TESTS_DIR "/data/";

std::string read_file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool file_exists(const std::string& path) { return std::ifstream(path).good(); }

NpyArray load_data_file(const std::string& file) {
  const std::string path = kDataDir + file;
  if (!file_exists(path)) throw std::runtime_error("missing test data " + path);
  return qmath::read_npy(path);
}

// ---- Round trips ---------------------------------------------------------------------------------------------

template <class T>
class NpyRoundTrip : public ::testing::Test {};
using NpyTypes = ::testing::Types<Eigen::half, float, std::int8_t, std::uint8_t, std::int16_t, std::uint16_t,
                                  std::int32_t, std::uint32_t, std::int64_t>;
// Names the instances by dtype (Float32, Int8, ...); a name generator also keeps clang's -Wpedantic quiet.
struct NpyTypeName {
  template <class T>
  static std::string GetName(int) {
    const std::string descr = qmath::npy_dtype<T>::kDescr;
    return std::string(descr[1] == 'f'   ? "Float"
                       : descr[1] == 'i' ? "Int"
                                         : "UInt") +
           std::to_string(8 * (descr[2] - '0'));
  }
};
TYPED_TEST_SUITE(NpyRoundTrip, NpyTypes, NpyTypeName);

TYPED_TEST(NpyRoundTrip, EveryShapeAndOrderThroughAStream) {
  using T = TypeParam;
  const std::vector<std::vector<std::int64_t>> shapes = {{2, 3}, {5}, {}, {0, 3}, {3, 0}, {2, 1, 4}};
  for (const auto& shape : shapes) {
    for (bool fortran : {false, true}) {
      std::size_t n = 1;
      for (std::int64_t d : shape) n *= static_cast<std::size_t>(d);
      const std::vector<T> values = sample_values<T>(n);
      std::stringstream buffer;
      qmath::write_npy(buffer, qmath::npy_dtype<T>::kDescr, shape, fortran, values.data(), values.size() * sizeof(T));
      const std::string bytes = buffer.str();
      ASSERT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
      const std::size_t header_length = static_cast<unsigned char>(bytes[8]) | static_cast<unsigned char>(bytes[9])
                                                                                   << 8;
      EXPECT_EQ((10 + header_length) % 64, 0u) << "data must start 64-byte aligned, as NumPy writes it";
      EXPECT_EQ(bytes[10 + header_length - 1], '\n');
      EXPECT_EQ(bytes.size(), 10 + header_length + n * sizeof(T));

      const NpyArray a = qmath::read_npy(buffer, "round trip");
      EXPECT_EQ(a.dtype, qmath::npy_dtype<T>::kDescr);
      EXPECT_EQ(a.shape, shape);
      EXPECT_EQ(a.fortran_order, fortran);
      EXPECT_EQ(a.size(), n);
      EXPECT_TRUE(a.holds<T>());
      EXPECT_EQ(a.values<T>(), values);
    }
  }
}

TYPED_TEST(NpyRoundTrip, TypedFileOverloads) {
  using T = TypeParam;
  const std::string path = ::testing::TempDir() + "qmath_npy_typed_" + qmath::npy_dtype<T>::kDescr[1] +
                           qmath::npy_dtype<T>::kDescr[2] + ".npy";
  const std::vector<T> values = sample_values<T>(6);
  qmath::write_npy(path, values, {3, 2});
  NpyArray a = qmath::read_npy(path);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{3, 2}));
  EXPECT_FALSE(a.fortran_order);
  EXPECT_EQ(a.values<T>(), values);

  qmath::write_npy(path, values, qmath::TensorShape{{2, 3}, qmath::storage_order::col_major});
  a = qmath::read_npy(path);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_TRUE(a.fortran_order);
  EXPECT_EQ(qmath::shape_of(a).order, qmath::storage_order::col_major);
  EXPECT_EQ(a.values<T>(), values);

  qmath::write_npy(path, a);  // the NpyArray overload writes what was read
  EXPECT_EQ(qmath::read_npy(path).data, a.data);
  std::remove(path.c_str());
}

TEST(Npy, ShapeOfMapsTheOrder) {
  NpyArray a;
  a.shape = {4, 5};
  EXPECT_EQ(qmath::shape_of(a).dims, a.shape);
  EXPECT_EQ(qmath::shape_of(a).order, qmath::storage_order::row_major);
  a.fortran_order = true;
  EXPECT_EQ(qmath::shape_of(a).order, qmath::storage_order::col_major);
}

TEST(Npy, ValuesOfTheWrongTypeThrow) {
  std::stringstream buffer;
  const std::vector<float> x = {1.0f, 2.0f};
  qmath::write_npy(buffer, "<f4", {2}, false, x.data(), 8);
  const NpyArray a = qmath::read_npy(buffer);
  EXPECT_THROW(a.values<std::int32_t>(), qmath::error);  // same width, other type
  EXPECT_THROW(a.values<double>(), qmath::error);
  NpyArray damaged = a;
  damaged.data.pop_back();
  EXPECT_THROW(damaged.values<float>(), qmath::error);
}

TEST(Npy, LongHeaderSwitchesToVersion2) {
  // 30000 dims of 1 make a header over 65535 bytes, which only format 2.0 can hold.
  const std::vector<std::int64_t> shape(30000, 1);
  const float x = 2.5f;
  std::stringstream buffer;
  qmath::write_npy(buffer, "<f4", shape, false, &x, sizeof(x));
  const std::string bytes = buffer.str();
  EXPECT_EQ(bytes[6], '\x02');
  const NpyArray a = qmath::read_npy(buffer);
  EXPECT_EQ(a.shape, shape);
  EXPECT_EQ(a.values<float>(), std::vector<float>{2.5f});
}

// ---- Files written by NumPy ----------------------------------------------------------------------------------

TEST(NpyFromNumpy, Float32COrder) {
  const NpyArray a = load_data_file("f32_c_2x3.npy");
  EXPECT_EQ(a.dtype, "<f4");
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_FALSE(a.fortran_order);
  EXPECT_EQ(a.values<float>(), (std::vector<float>{-1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f}));
}

TEST(NpyFromNumpy, WriterMatchesNumpyByteForByte) {
  for (const char* file :
       {"f32_c_2x3.npy", "f32_fortran_2x3.npy", "i1_4.npy", "u1_2x2.npy", "i2_3.npy", "f32_scalar.npy",
        "f32_empty_0x3.npy", "f2_c_2x3.npy", "f2_fortran_2x3.npy", "b1_2x3.npy", "b1_fortran_2x3.npy"}) {
    const NpyArray a = load_data_file(file);
    std::stringstream buffer;
    qmath::write_npy(buffer, a.dtype, a.shape, a.fortran_order, a.data.data(), a.data.size());
    EXPECT_EQ(buffer.str(), read_file_bytes(kDataDir + file)) << file;
  }
}

TEST(NpyFromNumpy, Float32FortranOrder) {
  const NpyArray a = load_data_file("f32_fortran_2x3.npy");
  EXPECT_TRUE(a.fortran_order);
  EXPECT_EQ(a.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_EQ(qmath::shape_of(a).order, qmath::storage_order::col_major);
  // Column by column: a[0][0], a[1][0], a[0][1], ...
  EXPECT_EQ(a.values<float>(), (std::vector<float>{-1.0f, 0.5f, -0.5f, 1.0f, 0.0f, 1.5f}));
}

TEST(NpyFromNumpy, Integers) {
  const NpyArray i1 = load_data_file("i1_4.npy");
  EXPECT_EQ(i1.dtype, "|i1");
  EXPECT_EQ(i1.values<std::int8_t>(), (std::vector<std::int8_t>{-128, -1, 0, 127}));
  const NpyArray u1 = load_data_file("u1_2x2.npy");
  EXPECT_EQ(u1.dtype, "|u1");
  EXPECT_EQ(u1.shape, (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(u1.values<std::uint8_t>(), (std::vector<std::uint8_t>{0, 1, 254, 255}));
  const NpyArray i2 = load_data_file("i2_3.npy");
  EXPECT_EQ(i2.values<std::int16_t>(), (std::vector<std::int16_t>{-32768, 7, 32767}));
}

TEST(NpyFromNumpy, Float64ReadOnly) {
  const NpyArray a = load_data_file("f8_3.npy");
  EXPECT_EQ(a.dtype, "<f8");
  EXPECT_EQ(a.values<double>(), (std::vector<double>{0.1, -2.5, 1e300}));
  std::stringstream buffer;
  EXPECT_THROW(qmath::write_npy(buffer, a.dtype, a.shape, false, a.data.data(), a.data.size()), qmath::error);
  EXPECT_TRUE(buffer.str().empty()) << "nothing may be written before the checks pass";
}

TEST(NpyFromNumpy, ScalarAndEmpty) {
  const NpyArray scalar = load_data_file("f32_scalar.npy");
  EXPECT_TRUE(scalar.shape.empty());
  EXPECT_EQ(scalar.size(), 1u);
  EXPECT_EQ(scalar.values<float>(), std::vector<float>{3.5f});
  const NpyArray empty = load_data_file("f32_empty_0x3.npy");
  EXPECT_EQ(empty.shape, (std::vector<std::int64_t>{0, 3}));
  EXPECT_EQ(empty.size(), 0u);
  EXPECT_TRUE(empty.values<float>().empty());
}

TEST(NpyFromNumpy, Version2Header) {
  const std::string path = kDataDir + "f32_v2_3.npy";
  ASSERT_EQ(read_file_bytes(path).substr(0, 8), std::string("\x93NUMPY\x02\x00", 8)) << "the file must be v2.0";
  const NpyArray a = qmath::read_npy(path);
  EXPECT_EQ(a.values<float>(), (std::vector<float>{1.5f, -0.25f, 1e-3f}));
}

TEST(NpyFromNumpy, Float16) {
  const NpyArray c = load_data_file("f2_c_2x3.npy");
  EXPECT_EQ(c.dtype, "<f2");
  EXPECT_EQ(c.shape, (std::vector<std::int64_t>{2, 3}));
  EXPECT_TRUE(c.holds<Eigen::half>());
  // 1, -2.5, 65504 (the largest finite), 2^-24 (the smallest subnormal), inf, -0.
  const std::vector<std::uint16_t> bits = {0x3C00, 0xC100, 0x7BFF, 0x0001, 0x7C00, 0x8000};
  const std::vector<Eigen::half> h = c.values<Eigen::half>();
  ASSERT_EQ(h.size(), bits.size());
  for (std::size_t i = 0; i < bits.size(); ++i) EXPECT_EQ(Eigen::numext::bit_cast<std::uint16_t>(h[i]), bits[i]) << i;
  const std::vector<float> f = c.to_float();
  EXPECT_EQ(f, (std::vector<float>{1.0f, -2.5f, 65504.0f, std::ldexp(1.0f, -24), std::numeric_limits<float>::infinity(),
                                   -0.0f}));
  EXPECT_TRUE(std::signbit(f[5]));
  EXPECT_THROW(c.values<std::uint16_t>(), qmath::error) << "float16 is not <u2";

  const NpyArray fortran = load_data_file("f2_fortran_2x3.npy");
  EXPECT_TRUE(fortran.fortran_order);
  EXPECT_EQ(fortran.to_float(), (std::vector<float>{1.0f, std::ldexp(1.0f, -24), -2.5f,
                                                    std::numeric_limits<float>::infinity(), 65504.0f, -0.0f}));
}

TEST(NpyFromNumpy, Bool) {
  const NpyArray c = load_data_file("b1_2x3.npy");
  EXPECT_EQ(c.dtype, "|b1");
  EXPECT_EQ(c.values<std::uint8_t>(), (std::vector<std::uint8_t>{1, 0, 1, 0, 0, 1}));
  EXPECT_EQ(c.to_float(), (std::vector<float>{1, 0, 1, 0, 0, 1}));
  EXPECT_FALSE(c.holds<std::uint8_t>()) << "holds<T> names T's own dtype, |u1";
  EXPECT_THROW(c.values<std::int8_t>(), qmath::error);
  const NpyArray fortran = load_data_file("b1_fortran_2x3.npy");
  EXPECT_TRUE(fortran.fortran_order);
  EXPECT_EQ(fortran.values<std::uint8_t>(), (std::vector<std::uint8_t>{1, 0, 0, 0, 1, 1}));
}

TEST(NpyFromNumpy, BoolByteOtherThanZeroOrOneIsRefused) {
  const std::string path = kDataDir + "b1_invalid_3.npy";
  try {
    qmath::read_npy(path);
    FAIL() << "a bool array holding the byte 2 was accepted";
  } catch (const qmath::error& e) {
    EXPECT_NE(std::string(e.what()).find(path + "': bool element 1 is 2, not 0 or 1"), std::string::npos) << e.what();
  }
}

TEST(NpyFromNumpy, BigEndianAndTruncatedFilesAreRefused) {
  for (const char* file : {"f32_bigendian_2.npy", "f2_bigendian_2.npy", "truncated_4x6.npy"}) {
    const std::string path = kDataDir + file;
    ASSERT_TRUE(file_exists(path)) << path;
    try {
      qmath::read_npy(path);
      ADD_FAILURE() << file << " was accepted";
    } catch (const qmath::error& e) {
      EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << "the message must name the file: " << e.what();
    }
  }
}

TEST(Npy, MissingFileNamesThePath) {
  const std::string path = ::testing::TempDir() + "qmath_no_such_file.npy";
  try {
    qmath::read_npy(path);
    FAIL() << "a missing file was read";
  } catch (const qmath::error& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos) << e.what();
  }
}

// ---- Malformed input, built in memory ------------------------------------------------------------------------

// A .npy image: magic, version, header length (as `length_bytes` little-endian bytes, or `claimed_length`
// when given), header, data.
std::string npy_image(const std::string& header, const std::string& data = "", int major = 1,
                      long long claimed_length = -1) {
  std::string out("\x93NUMPY", 6);
  out += static_cast<char>(major);
  out += '\0';
  const unsigned long long length =
      claimed_length >= 0 ? static_cast<unsigned long long>(claimed_length) : header.size();
  const int length_bytes = major == 1 ? 2 : 4;
  for (int k = 0; k < length_bytes; ++k) out += static_cast<char>((length >> (8 * k)) & 0xFF);
  return out + header + data;
}

std::string f32_data(std::size_t n) { return std::string(4 * n, '\0'); }

NpyArray read_image(const std::string& bytes) {
  std::istringstream in(bytes);
  return qmath::read_npy(in, "image.npy");
}

// Reading must throw qmath::error naming the input and mentioning `keyword`.
void expect_npy_error(const std::string& bytes, const std::string& keyword) {
  try {
    read_image(bytes);
    ADD_FAILURE() << "accepted; expected an error about '" << keyword << "'";
  } catch (const qmath::error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("image.npy"), std::string::npos) << message;
    EXPECT_NE(message.find(keyword), std::string::npos) << "expected '" << keyword << "' in: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "the message must be one line: " << message;
  }
}

const std::string kGoodHeader = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n";

TEST(NpyMalformed, TheGoodImageReads) {
  // The baseline that the cases below break one thing of.
  EXPECT_EQ(read_image(npy_image(kGoodHeader, f32_data(2))).values<float>(), (std::vector<float>{0.0f, 0.0f}));
}

TEST(NpyMalformed, MagicAndVersion) {
  expect_npy_error("", "not a .npy file");
  expect_npy_error("\x93NUM", "not a .npy file");
  expect_npy_error(std::string("\x93NUMPZ\x01\x00", 8) + kGoodHeader, "not a .npy file");
  expect_npy_error(std::string("PK\x03\x04", 4), "not a .npy file");  // a .npz (zip) file
  expect_npy_error(std::string("\x93NUMPY\x01", 7), "truncated");
  expect_npy_error(npy_image(kGoodHeader, f32_data(2), 4), "version 4.0");
  std::string minor = npy_image(kGoodHeader, f32_data(2));
  minor[7] = 1;
  expect_npy_error(minor, "version 1.1");
}

TEST(NpyMalformed, HeaderLength) {
  expect_npy_error(std::string("\x93NUMPY\x01\x00\x10", 9), "header length");
  expect_npy_error(std::string("\x93NUMPY\x02\x00\x10\x00", 10), "header length");
  expect_npy_error(npy_image(kGoodHeader, "", 1, 200), "truncated header");
  expect_npy_error(npy_image(kGoodHeader, f32_data(2), 2, 0xFFFFFFFFLL), "exceeds the limit");
  // Too short a length cuts the dict; too long takes data bytes into the header.
  expect_npy_error(npy_image(kGoodHeader, f32_data(2), 1, 20), "bad header");
  expect_npy_error(npy_image(kGoodHeader, "xyzw" + f32_data(1), 1, static_cast<long long>(kGoodHeader.size()) + 4),
                   "bad header");
  expect_npy_error(npy_image("", f32_data(2)), "bad header");
}

TEST(NpyMalformed, VersionsTwoAndThreeRead) {
  for (int major : {2, 3}) {
    const NpyArray a = read_image(npy_image(kGoodHeader, f32_data(2), major));
    EXPECT_EQ(a.shape, std::vector<std::int64_t>{2});
  }
}

TEST(NpyMalformed, HeaderSyntaxVariantsThatAreValid) {
  // Any key order, no trailing comma, double quotes, odd spacing, a trailing comma in the shape, Python 2 longs,
  // no final newline: all valid Python dict literals that NumPy reads.
  const std::vector<std::string> headers = {
      "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}",
      "{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,)}\n",
      "  {  'descr' :  '<f4' ,\n 'fortran_order' : False , 'shape' : ( 2 , ) , }   \n",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2,), }",
      "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 1), }",
  };
  for (const std::string& header : headers) {
    const NpyArray a = read_image(npy_image(header, f32_data(2)));
    EXPECT_EQ(a.size(), 2u) << header;
    EXPECT_EQ(a.dtype, "<f4") << header;
  }
  // One-byte types: any byte-order marker or none means the same thing.
  for (const char* descr : {"|i1", "<i1", "i1", "=i1", ">i1"}) {
    const NpyArray a =
        read_image(npy_image(std::string("{'descr': '") + descr + "', 'fortran_order': True, 'shape': (3,), }", "abc"));
    EXPECT_EQ(a.dtype, "|i1") << descr;
    EXPECT_TRUE(a.fortran_order);
  }
}

TEST(NpyMalformed, HeaderDict) {
  expect_npy_error(npy_image("[1, 2]\n", f32_data(2)), "dict");
  expect_npy_error(npy_image("{'descr': '<f4', 'fortran_order': False}\n", f32_data(2)), "no 'shape'");
  expect_npy_error(npy_image("{'fortran_order': False, 'shape': (2,)}\n", f32_data(2)), "no 'descr'");
  expect_npy_error(npy_image("{'descr': '<f4', 'shape': (2,)}\n", f32_data(2)), "no 'fortran_order'");
  expect_npy_error(npy_image("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", f32_data(2)),
                   "twice");
  expect_npy_error(npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", f32_data(2)),
                   "unexpected key 'extra'");
  expect_npy_error(npy_image("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", f32_data(2)), "expected ','");
  expect_npy_error(npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", f32_data(2)), "expected ','");
  expect_npy_error(npy_image(kGoodHeader + "x", f32_data(2)), "after the header dict");
  expect_npy_error(npy_image("{'descr: '<f4', 'fortran_order': False, 'shape': (2,)}", f32_data(2)), "bad header");
  expect_npy_error(npy_image("{'descr': '<f4", f32_data(2)), "unterminated");
  expect_npy_error(npy_image("{'descr': '<\\x66\\x34', 'fortran_order': False, 'shape': (2,)}", f32_data(2)),
                   "escapes");
  expect_npy_error(npy_image("{descr: '<f4', 'fortran_order': False, 'shape': (2,)}", f32_data(2)), "key in quotes");
  std::string with_nul = "{'descr': '<f4'#, 'fortran_order': False, 'shape': (2,)}";
  with_nul[with_nul.find('#')] = '\0';
  expect_npy_error(npy_image(with_nul, f32_data(2)), "bad header");
}

TEST(NpyMalformed, Descr) {
  const auto with_descr = [](const std::string& descr, const std::string& data = f32_data(2)) {
    return npy_image("{'descr': " + descr + ", 'fortran_order': False, 'shape': (2,), }", data);
  };
  expect_npy_error(with_descr("'>f4'"), "big-endian");
  expect_npy_error(with_descr("'>i2'"), "big-endian");
  expect_npy_error(with_descr("'>f2'"), "big-endian");
  expect_npy_error(with_descr("'f2'"), "does not say little-endian");
  expect_npy_error(with_descr("'|O'"), "object");
  expect_npy_error(with_descr("[('a', '<f4'), ('b', '<i4')]"), "structured");
  expect_npy_error(with_descr("'<f16'"), "unsupported dtype '<f16'");
  expect_npy_error(with_descr("'<c8'"), "unsupported dtype");
  expect_npy_error(with_descr("'|b2'"), "unsupported dtype");
  expect_npy_error(with_descr("'|S2'"), "unsupported dtype");
  expect_npy_error(with_descr("'<U2'"), "unsupported dtype");
  expect_npy_error(with_descr("'<u8'"), "unsupported dtype");
  expect_npy_error(with_descr("'<M8[ns]'"), "unsupported dtype");
  expect_npy_error(with_descr("'f4'"), "does not say little-endian");
  expect_npy_error(with_descr("'|f4'"), "does not say little-endian");
  expect_npy_error(with_descr("''"), "unsupported dtype");
  expect_npy_error(with_descr("4"), "'descr' string");
}

TEST(NpyMalformed, FortranOrder) {
  for (const char* value : {"false", "0", "'False'", "Tru", "None"})
    expect_npy_error(
        npy_image(std::string("{'descr': '<f4', 'fortran_order': ") + value + ", 'shape': (2,)}", f32_data(2)),
        "fortran_order");
}

TEST(NpyMalformed, Shape) {
  const auto with_shape = [](const std::string& shape, const std::string& data = f32_data(2)) {
    return npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }", data);
  };
  expect_npy_error(with_shape("[2]"), "not a list");
  expect_npy_error(with_shape("2"), "must be a tuple");
  expect_npy_error(with_shape("(2)"), "1-tuple");
  expect_npy_error(with_shape("(-2,)"), "non-negative integer");
  expect_npy_error(with_shape("(2.0,)"), "expected ',' or ')'");
  expect_npy_error(with_shape("(2,,)"), "non-negative integer");
  expect_npy_error(with_shape("(,)"), "non-negative integer");
  expect_npy_error(with_shape("(02,)"), "leading zero");
  expect_npy_error(with_shape("(2 3)"), "expected ',' or ')'");
  expect_npy_error(with_shape("(2,"), "non-negative integer");
  expect_npy_error(with_shape("(99999999999999999999,)"), "overflows int64");
  // Products that overflow 64 bits, as elements or as bytes.
  expect_npy_error(with_shape("(4294967296, 4294967296)"), "overflows");
  expect_npy_error(with_shape("(4611686018427387904,)"), "overflows");  // 2^62 elements of 4 bytes
  expect_npy_error(with_shape("(9223372036854775807, 3)"), "overflows");
  // A zero dim makes the array empty however large the others are: that is valid (and needs no data).
  EXPECT_EQ(read_image(with_shape("(0, 9223372036854775807, 9223372036854775807)", "")).size(), 0u);
}

TEST(NpyMalformed, DataSize) {
  expect_npy_error(npy_image(kGoodHeader, f32_data(1)), "truncated data");
  expect_npy_error(npy_image(kGoodHeader, f32_data(2).substr(1)), "truncated data");
  expect_npy_error(npy_image(kGoodHeader, ""), "truncated data");
  expect_npy_error(npy_image(kGoodHeader, f32_data(3)), "unexpected bytes after");
  expect_npy_error(npy_image(kGoodHeader, f32_data(2) + "\n"), "unexpected bytes after");
  // A header announcing 4 TiB over a few bytes of data: reported as truncated, without allocating 4 TiB.
  expect_npy_error(npy_image("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }", f32_data(2)),
                   "truncated data");
}

TEST(NpyMalformed, BoolBytes) {
  const auto bools = [](const std::string& data) {
    return npy_image("{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }", data);
  };
  EXPECT_EQ(read_image(bools(std::string("\x01\x00\x01", 3))).values<std::uint8_t>(),
            (std::vector<std::uint8_t>{1, 0, 1}));
  expect_npy_error(bools(std::string("\x01\x00\x02", 3)), "bool element 2 is 2, not 0 or 1");
  expect_npy_error(bools("\xFF\x01\x01"), "bool element 0 is 255");
  // Any byte-order marker, or none, on a one-byte type.
  for (const char* descr : {"'b1'", "'<b1'", "'?'"}) {
    const std::string header = std::string("{'descr': ") + descr + ", 'fortran_order': False, 'shape': (1,), }";
    if (std::string(descr) == "'?'") {
      expect_npy_error(npy_image(header, "\x01"), "unsupported dtype");  // NumPy's char code is not a descr
    } else {
      EXPECT_EQ(read_image(npy_image(header, "\x01")).dtype, "|b1") << descr;
    }
  }
}

// ---- to_float ------------------------------------------------------------------------------------------------

template <class T>
NpyArray array_of(const std::vector<T>& values) {
  std::stringstream buffer;
  qmath::write_npy(buffer, qmath::npy_dtype<T>::kDescr, {static_cast<std::int64_t>(values.size())}, false,
                   values.data(), values.size() * sizeof(T));
  return qmath::read_npy(buffer);
}

TEST(NpyToFloat, EveryDtype) {
  EXPECT_EQ(array_of<float>({1.5f, -0.0f, 3e38f}).to_float(), (std::vector<float>{1.5f, -0.0f, 3e38f}));
  EXPECT_EQ(array_of<std::int8_t>({-128, 127}).to_float(), (std::vector<float>{-128.0f, 127.0f}));
  EXPECT_EQ(array_of<std::uint8_t>({0, 255}).to_float(), (std::vector<float>{0.0f, 255.0f}));
  EXPECT_EQ(array_of<std::int16_t>({-32768, 32767}).to_float(), (std::vector<float>{-32768.0f, 32767.0f}));
  EXPECT_EQ(array_of<std::uint16_t>({65535}).to_float(), (std::vector<float>{65535.0f}));
  // Exact up to 2^24, rounded to nearest (even) beyond.
  EXPECT_EQ(array_of<std::int32_t>({16777216, 16777217, 16777219, -2147483647 - 1}).to_float(),
            (std::vector<float>{16777216.0f, 16777216.0f, 16777220.0f, -2147483648.0f}));
  EXPECT_EQ(array_of<std::uint32_t>({4294967295u}).to_float(), (std::vector<float>{4294967296.0f}));
  EXPECT_EQ(array_of<std::int64_t>({std::numeric_limits<std::int64_t>::min(), 3}).to_float(),
            (std::vector<float>{-9223372036854775808.0f, 3.0f}));
  const std::vector<Eigen::half> h = {Eigen::half(0.5f), Eigen::numext::bit_cast<Eigen::half>(std::uint16_t{0x7E00})};
  const std::vector<float> hf = array_of<Eigen::half>(h).to_float();
  EXPECT_EQ(hf[0], 0.5f);
  EXPECT_TRUE(std::isnan(hf[1]));
  // <f8 (read only) from NumPy's file: 1e300 is past the float range.
  EXPECT_EQ(load_data_file("f8_3.npy").to_float(),
            (std::vector<float>{0.1f, -2.5f, std::numeric_limits<float>::infinity()}));
  EXPECT_TRUE(load_data_file("f32_empty_0x3.npy").to_float().empty());
}

TEST(NpyToFloat, DamagedArraysThrow) {
  NpyArray a = array_of<float>({1.0f, 2.0f});
  a.data.pop_back();
  EXPECT_THROW(a.to_float(), qmath::error);
  a = array_of<float>({1.0f});
  a.dtype = "<c8";
  EXPECT_THROW(a.to_float(), qmath::error);
  a = array_of<std::uint8_t>({1, 3});
  a.dtype = "|b1";
  EXPECT_THROW(a.to_float(), qmath::error);
}

// ---- Writer argument checks ----------------------------------------------------------------------------------

TEST(NpyWrite, BadArgumentsThrowBeforeWriting) {
  const std::vector<float> x(6, 1.0f);
  const auto expect_rejected = [&](const std::string& dtype, const std::vector<std::int64_t>& shape, const void* data,
                                   std::size_t bytes) {
    std::stringstream buffer;
    EXPECT_THROW(qmath::write_npy(buffer, dtype, shape, false, data, bytes), qmath::error) << dtype;
    EXPECT_TRUE(buffer.str().empty()) << dtype;
  };
  expect_rejected(">f4", {6}, x.data(), 24);
  expect_rejected("<f8", {3}, x.data(), 24);
  expect_rejected("|O", {6}, x.data(), 24);
  expect_rejected("<f4", {5}, x.data(), 24);   // size mismatch
  expect_rejected("<f4", {-6}, x.data(), 24);  // negative dim
  expect_rejected("<f4", {6}, nullptr, 24);
  expect_rejected("<f4", {std::numeric_limits<std::int64_t>::max(), 2}, x.data(), 24);
  const std::uint8_t bad_bools[3] = {1, 0, 2};
  expect_rejected("|b1", {3}, bad_bools, 3);

  const std::string path = ::testing::TempDir() + "qmath_npy_rejected.npy";
  std::remove(path.c_str());
  EXPECT_THROW(qmath::write_npy(path, "<f4", {5}, false, x.data(), 24), qmath::error);
  EXPECT_FALSE(file_exists(path)) << "a rejected write must leave no file";
  EXPECT_THROW(qmath::write_npy(::testing::TempDir() + "no/such/dir/x.npy", x, {6}), qmath::error);
}

TEST(NpyWrite, NonCanonicalDescrIsWrittenCanonically) {
  const std::int8_t codes[3] = {-1, 0, 1};
  std::stringstream buffer;
  qmath::write_npy(buffer, "<i1", {3}, false, codes, 3);
  EXPECT_NE(buffer.str().find("'descr': '|i1'"), std::string::npos);
}

}  // namespace
