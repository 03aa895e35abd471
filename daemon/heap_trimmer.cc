#include "daemon/heap_trimmer.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace cmlr::daemon {

HeapTrimmer::HeapTrimmer(boost::asio::any_io_executor executor, common::Duration period)
    : timer_(std::move(executor)), period_(period) {}

void HeapTrimmer::Start() {
  if (running_) return;
  running_ = true;
  Arm();
}

void HeapTrimmer::Stop() {
  running_ = false;
  timer_.cancel();
}

bool HeapTrimmer::TrimNow() {
#if defined(__GLIBC__)
  return ::malloc_trim(0) == 1;
#else
  return false;
#endif
}

void HeapTrimmer::Arm() {
  timer_.expires_after(period_);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || !running_) return;
    TrimNow();
    ++trims_;
    Arm();
  });
}

}  // namespace cmlr::daemon
