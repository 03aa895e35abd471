#pragma once

#include <cstddef>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/clock.h"

namespace cmlr::daemon {

// Hands the heap's free pages back to the operating system every `period` (glibc's
// malloc_trim), so that the daemon's resident size follows what it holds rather than the
// high-water mark of transient peaks: a long CML listing is parsed whole, and CML keeps every
// stopped deployment, so those peaks grow with CML's history while what the reconciler keeps
// does not (design 10, P8). A no-op where the C library has no malloc_trim. Used on the
// executor's thread; Stop() before the io_context is expected to run out of work.
class HeapTrimmer {
 public:
  HeapTrimmer(boost::asio::any_io_executor executor, common::Duration period);

  void Start();
  void Stop();

  // Trims once; true when memory went back to the system.
  static bool TrimNow();
  // How many periodic trims ran (tests).
  std::size_t trims() const { return trims_; }

 private:
  void Arm();

  boost::asio::steady_timer timer_;
  common::Duration period_;
  bool running_ = false;
  std::size_t trims_ = 0;
};

}  // namespace cmlr::daemon
