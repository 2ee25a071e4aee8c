// SPDX-License-Identifier: Apache-2.0
// core/parallel.hpp: runs the parts of one computation on several threads (core layer).
//
// parallel_for(parts, body, pool) calls body(i) once for every i in [0, parts), on up to `parts` threads, and
// returns when all have finished. The parts are claimed from a shared counter, so the result never depends on
// how many threads actually take part: when fewer are available (a busy pool, a thread that cannot be created),
// the calling thread runs the remaining parts itself. Nothing here throws once the call has started; the body
// must not throw either.
//
// The threads, in order of preference:
// - an Eigen::ThreadPoolInterface the caller passes (an Eigen::ThreadPool the application already owns);
// - OpenMP, when the translation unit that includes qmath is compiled with it;
// - qmath's own pool: threads created on first need, kept for the life of the program (a call does not pay for
//   thread creation), grown when a call asks for more. A thread that cannot be created is simply not used.
#pragma once

#include "qmath/core/config.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <unsupported/Eigen/CXX11/ThreadPool>

#if defined(_OPENMP)
#include <omp.h>
#endif

QMATH_BEGIN_NAMESPACE
namespace detail {

// What follows depends on whether the including translation unit uses OpenMP, so each setting gets its own
// namespace (one program may mix both).
#if defined(_OPENMP)
inline namespace with_openmp {
#else
inline namespace without_openmp {
#endif

/// The default thread count for `requested` = 0: OpenMP's when compiled with it, else 1.
inline int default_threads(int requested) noexcept {
  if (requested > 0) return requested;
#if defined(_OPENMP)
  return std::max(1, omp_get_max_threads());
#else
  return 1;
#endif
}

}  // inline namespace with_openmp / without_openmp

/// One parallel_for call: its parts are claimed through `next` by every thread that helps.
class ParallelJob {
 public:
  template <class Body>
  ParallelJob(int parts, const Body& body) noexcept
      : parts_(parts), body_(&body), call_([](const void* b, int i) noexcept { (*static_cast<const Body*>(b))(i); }) {}

  /// Runs unclaimed parts until none is left. Returns whether this call finished the last part.
  bool help() noexcept {
    bool finished_last = false;
    for (int i = next_.fetch_add(1, std::memory_order_relaxed); i < parts_; i = next_.fetch_add(1, std::memory_order_relaxed)) {
      call_(body_, i);
      if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == parts_) finished_last = true;
    }
    if (finished_last) {
      std::lock_guard<std::mutex> lock(mutex_);
      finished_ = true;
      cv_.notify_all();
    }
    return finished_last;
  }
  bool has_unclaimed() const noexcept { return next_.load(std::memory_order_relaxed) < parts_; }
  void wait() noexcept {
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [this] { return finished_; });
  }

 private:
  const int parts_;
  const void* body_;
  void (*call_)(const void*, int) noexcept;
  std::atomic<int> next_{0}, done_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool finished_ = false;
};

/// qmath's own threads. Jobs wait in a queue; each worker helps the oldest job that still has unclaimed parts.
class WorkerPool {
 public:
  static WorkerPool& instance() {
    static WorkerPool pool;
    return pool;
  }
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;
  ~WorkerPool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

  /// Offers the job to up to `helpers` workers (creating threads as needed, as far as the system allows).
  void offer(const std::shared_ptr<ParallelJob>& job, int helpers) noexcept {
    std::lock_guard<std::mutex> lock(mutex_);
    grow(static_cast<std::size_t>(helpers));
    if (threads_.empty()) return;
    try {
      queue_.push_back(job);
    } catch (...) {
      return;  // no room to queue it: the caller runs every part
    }
    wake_.notify_all();
  }

 private:
  WorkerPool() = default;

  void grow(std::size_t wanted) noexcept {
    try {
      threads_.reserve(wanted);
      while (threads_.size() < wanted) threads_.emplace_back([this] { work(); });
    } catch (...) {
      // std::system_error (the system refused a thread) or std::bad_alloc: keep the workers we have.
    }
  }

  void work() noexcept {
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      while (!queue_.empty() && !queue_.front()->has_unclaimed()) queue_.pop_front();
      if (stopping_) return;
      if (queue_.empty()) {
        wake_.wait(lock);
        continue;
      }
      std::shared_ptr<ParallelJob> job = queue_.front();
      lock.unlock();
      job->help();
      lock.lock();
    }
  }

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<ParallelJob>> queue_;
  std::vector<std::thread> threads_;
  bool stopping_ = false;
};

#if defined(_OPENMP)
inline namespace with_openmp {
#else
inline namespace without_openmp {
#endif

/// Calls body(i) for i in [0, parts) on up to `parts` threads (see the top of this file) and waits for all.
template <class Body>
void parallel_for(int parts, const Body& body, Eigen::ThreadPoolInterface* pool = nullptr) noexcept {
  if (parts <= 0) return;
  if (parts == 1) {
    body(0);
    return;
  }
  std::shared_ptr<ParallelJob> job;
  try {
    job = std::make_shared<ParallelJob>(parts, body);
  } catch (...) {
    for (int i = 0; i < parts; ++i) body(i);
    return;
  }
  if (pool != nullptr) {
    // Each task keeps the job alive: a task the pool starts late finds no part left and returns.
    for (int t = 1; t < parts; ++t) {
      try {
        pool->Schedule([job] { job->help(); });
      } catch (...) {
        break;
      }
    }
  } else {
#if defined(_OPENMP)
#pragma omp parallel num_threads(parts)
    job->help();
    return;
#else
    WorkerPool::instance().offer(job, parts - 1);
#endif
  }
  if (!job->help()) job->wait();
}

}  // inline namespace with_openmp / without_openmp
}  // namespace detail
QMATH_END_NAMESPACE  // qmath
