// SPDX-License-Identifier: Apache-2.0
// nn/serialize.hpp: a Sequential's parameters to and from .safetensors files or folders of .npy files, under the
// names torch's nn.Sequential.state_dict() gives them (layers).
//
//   "<i>.weight", "<i>.bias"                     Conv2d [O, I / groups, KH, KW] and [O]; Linear [out, in] and [out]
//   "<i>.weight", "<i>.bias", "<i>.running_mean", "<i>.running_var"   BatchNorm2d, each [C] (weight = gamma)
//   "<i>.body.<j>...."                           the layers of a Residual block's body
// where i counts the model's layers from 0 (ReLU, pools and Flatten have no parameters but keep their index, as in
// torch), so the keys of an nn.Sequential's state_dict with the same layers are the keys expected here (torch's OIHW
// and [out, in] shapes too). Not checked against the safetensors Python package, which Debian does not ship.
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "qmath/core/config.hpp"
#include "qmath/core/error.hpp"
#include "qmath/io/npy.hpp"
#include "qmath/io/safetensors.hpp"
#include "qmath/nn/model.hpp"

QMATH_BEGIN_NAMESPACE
namespace nn {
namespace detail {

inline SafetensorsTensor f32_tensor(const std::string& name, std::vector<std::int64_t> shape, const float* values,
                                    std::size_t count) {
  SafetensorsTensor t{name, "F32", std::move(shape), std::vector<std::uint8_t>(count * sizeof(float))};
  if (count) std::memcpy(t.data.data(), values, count * sizeof(float));
  return t;
}

inline void collect(const Sequential& model, const std::string& prefix, std::vector<SafetensorsTensor>& out) {
  const auto& layers = model.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string key = prefix + std::to_string(i) + ".";
    if (const auto* c = std::get_if<Conv2d>(&layers[i])) {
      const ConvParams& f = c->filter();
      out.push_back(f32_tensor(key + "weight", {f.out_channels, f.in_channels / f.groups, f.kernel_h, f.kernel_w},
                               c->weight().data(), c->weight().size()));
      out.push_back(f32_tensor(key + "bias", {f.out_channels}, c->bias().data(), c->bias().size()));
    } else if (const auto* l = std::get_if<Linear>(&layers[i])) {
      out.push_back(f32_tensor(key + "weight", {l->out_features(), l->in_features()}, l->weight().data(),
                               static_cast<std::size_t>(l->weight().size())));
      out.push_back(f32_tensor(key + "bias", {l->out_features()}, l->bias().data(), static_cast<std::size_t>(l->bias().size())));
    } else if (const auto* b = std::get_if<BatchNorm2d>(&layers[i])) {
      const auto n = static_cast<std::size_t>(b->channels());
      out.push_back(f32_tensor(key + "weight", {b->channels()}, b->gamma().data(), n));
      out.push_back(f32_tensor(key + "bias", {b->channels()}, b->beta().data(), n));
      out.push_back(f32_tensor(key + "running_mean", {b->channels()}, b->running_mean().data(), n));
      out.push_back(f32_tensor(key + "running_var", {b->channels()}, b->running_var().data(), n));
    } else if (const auto* r = std::get_if<Residual>(&layers[i])) {
      if (r->body) collect(*r->body, key + "body.", out);
    } else if (std::holds_alternative<DynamicLinear>(layers[i])) {
      qmath::detail::fail("qmath::nn::state_dict", "layer " + key.substr(0, key.size() - 1) +
                                                       " is a DynamicLinear: save the fp32 model instead");
    }
  }
}

/// Where load_state_dict finds a named tensor: a parsed .safetensors file or a folder of <name>.npy files.
struct TensorSource {
  const SafetensorsFile* file = nullptr;
  std::string folder;
  std::string where;  // for messages

  bool find(const std::string& name, std::vector<std::int64_t>& shape, std::vector<float>& values) const {
    if (file) {
      const SafetensorsTensor* t = file->find(name);
      if (!t) return false;
      shape = t->shape;
      values = t->to_float();
      return true;
    }
    const std::string path = folder + "/" + name + ".npy";
    if (!std::ifstream(path).good()) return false;
    const NpyArray a = read_npy(path);
    qmath::detail::require(!a.fortran_order || a.shape.size() < 2, "qmath::nn::load_state_dict",
                           path + " is in Fortran order; save it in C order (numpy.ascontiguousarray)");
    shape = a.shape;
    values = a.to_float();
    return true;
  }
};

inline std::string shape_string(const std::vector<std::int64_t>& s) {
  std::string out = "[";
  for (std::size_t k = 0; k < s.size(); ++k) out += (k ? ", " : "") + std::to_string(s[k]);
  return out + "]";
}

inline std::vector<float> fetch(const TensorSource& src, const std::string& name, const std::vector<std::int64_t>& shape,
                                std::set<std::string>& used) {
  constexpr const char* fn = "qmath::nn::load_state_dict";
  std::vector<std::int64_t> found;
  std::vector<float> values;
  if (!src.find(name, found, values)) qmath::detail::fail(fn, src.where + " has no tensor \"" + name + "\"");
  if (found != shape)
    qmath::detail::fail(fn, "\"" + name + "\" in " + src.where + " has shape " + shape_string(found) + ", the layer needs " +
                                shape_string(shape));
  used.insert(name);
  return values;
}

inline Sequential load(const Sequential& model, const TensorSource& src, const std::string& prefix, std::set<std::string>& used) {
  Sequential out;
  const auto& layers = model.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string key = prefix + std::to_string(i) + ".";
    if (const auto* c = std::get_if<Conv2d>(&layers[i])) {
      const ConvParams& f = c->filter();
      const std::vector<float> w = fetch(src, key + "weight", {f.out_channels, f.in_channels / f.groups, f.kernel_h, f.kernel_w}, used);
      const std::vector<float> b = fetch(src, key + "bias", {f.out_channels}, used);
      out.add(Conv2d(f, w.data(), b.data()));
    } else if (const auto* l = std::get_if<Linear>(&layers[i])) {
      const std::vector<float> w = fetch(src, key + "weight", {l->out_features(), l->in_features()}, used);
      const std::vector<float> b = fetch(src, key + "bias", {l->out_features()}, used);
      out.add(Linear(w.data(), l->out_features(), l->in_features(), b.data()));
    } else if (const auto* bn = std::get_if<BatchNorm2d>(&layers[i])) {
      const std::vector<std::int64_t> c{bn->channels()};
      const std::vector<float> g = fetch(src, key + "weight", c, used), be = fetch(src, key + "bias", c, used),
                               m = fetch(src, key + "running_mean", c, used), v = fetch(src, key + "running_var", c, used);
      out.add(BatchNorm2d(bn->channels(), g.data(), be.data(), m.data(), v.data(), bn->eps()));
    } else if (const auto* r = std::get_if<Residual>(&layers[i]); r && r->body) {
      out.add(Residual{std::make_shared<const Sequential>(load(*r->body, src, key + "body.", used)), r->relu});
    } else {
      out.add(layers[i]);
    }
  }
  return out;
}

inline Sequential load_checked(const Sequential& model, const TensorSource& src, const std::vector<std::string>& all_names,
                               bool strict) {
  std::set<std::string> used;
  Sequential out = load(model, src, "", used);
  if (strict)
    for (const std::string& name : all_names)
      if (!used.count(name))
        qmath::detail::fail("qmath::nn::load_state_dict",
                            src.where + " holds \"" + name + "\", which no layer of the model takes (strict = false ignores it)");
  return out;
}

}  // namespace detail

/// The model's parameters as F32 tensors named as torch names them (see the top of this file).
/// @throws qmath::error on a DynamicLinear layer (its fp32 weights are gone).
inline std::vector<SafetensorsTensor> state_dict(const Sequential& model) {
  std::vector<SafetensorsTensor> out;
  detail::collect(model, "", out);
  return out;
}

/// Writes state_dict(model) as a .safetensors file.
inline void save_safetensors(const Sequential& model, const std::string& path) {
  write_safetensors(path, state_dict(model));
}

/// A copy of `model` (the same layers and geometry) with every parameter read from `file`; any float dtype is
/// widened to float32. strict: every tensor of the file must be used. The model passed in is not changed.
/// @throws qmath::error on a missing tensor, a shape that differs from the layer's, an unused tensor (strict),
///         non-finite values or an unsupported dtype.
inline Sequential load_state_dict(const Sequential& model, const SafetensorsFile& file, bool strict = true,
                                  const std::string& name = "the file") {
  detail::TensorSource src;
  src.file = &file;
  src.where = name;
  std::vector<std::string> names;
  for (const SafetensorsTensor& t : file.tensors) names.push_back(t.name);
  return detail::load_checked(model, src, names, strict);
}

/// As above from a path: a .safetensors file, or a folder holding one <name>.npy per tensor (C order; strict is not
/// checked for folders, whose other files are left alone).
inline Sequential load_state_dict(const Sequential& model, const std::string& path, bool strict = true) {
  const bool safetensors = path.size() >= 12 && path.compare(path.size() - 12, 12, ".safetensors") == 0;
  if (safetensors) return load_state_dict(model, read_safetensors(path), strict, path);
  detail::TensorSource src;
  src.folder = path;
  src.where = path;
  return detail::load_checked(model, src, {}, false);
}

}  // namespace nn
QMATH_END_NAMESPACE  // qmath
