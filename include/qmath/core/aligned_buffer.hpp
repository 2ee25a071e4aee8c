// SPDX-License-Identifier: Apache-2.0
// core/aligned_buffer.hpp: one 64-byte aligned array for the library's packed operands and scratch, and for the
// benchmarks (core layer).
#pragma once

#include "qmath/core/config.hpp"

#include <cstddef>
#include <cstring>
#include <limits>
#include <new>
#include <type_traits>
#include <utility>

QMATH_BEGIN_NAMESPACE

/// A heap array of trivially copyable T, aligned to 64 bytes (a cache line, and every vector load of the kernels).
/// Copying copies the elements; a moved-from buffer is empty. Contents start uninitialized unless zeroed.
template <class T>
class AlignedBuffer {
  static_assert(std::is_trivially_copyable<T>::value, "AlignedBuffer holds trivially copyable elements");

 public:
  static constexpr std::size_t kAlignment = 64;

  AlignedBuffer() = default;
  /// n elements; throws std::bad_alloc when the size overflows or the allocation fails.
  explicit AlignedBuffer(std::size_t n, bool zeroed = false) : size_(n) {
    if (n == 0) return;
    if (n > std::numeric_limits<std::size_t>::max() / sizeof(T) - kAlignment) throw std::bad_alloc();
    data_ = static_cast<T*>(::operator new(bytes(n), std::align_val_t{kAlignment}));
    if (zeroed) std::memset(static_cast<void*>(data_), 0, bytes(n));
  }
  AlignedBuffer(const AlignedBuffer& other) : AlignedBuffer(other.size_) {
    if (size_) std::memcpy(static_cast<void*>(data_), other.data_, size_ * sizeof(T));
  }
  AlignedBuffer(AlignedBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  AlignedBuffer& operator=(const AlignedBuffer& other) {
    if (this != &other) *this = AlignedBuffer(other);
    return *this;
  }
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~AlignedBuffer() { release(); }

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  T* get() noexcept { return data_; }
  const T* get() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }

  /// Grows (never shrinks) to at least n elements; the contents are not kept.
  void reserve_uninitialized(std::size_t n) {
    if (size_ < n) *this = AlignedBuffer(n);
  }

 private:
  // Rounded up to the alignment, as aligned allocation functions may require.
  static std::size_t bytes(std::size_t n) noexcept { return (n * sizeof(T) + kAlignment - 1) / kAlignment * kAlignment; }
  void release() noexcept {
    if (data_) ::operator delete(static_cast<void*>(data_), std::align_val_t{kAlignment});
    data_ = nullptr;
    size_ = 0;
  }

  T* data_ = nullptr;
  std::size_t size_ = 0;
};

QMATH_END_NAMESPACE  // qmath
