#include "daemon/heap_trimmer.h"

#include <chrono>
#include <memory>
#include <vector>

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>

namespace cmlr::daemon {
namespace {

// Verifies that the trimmer trims periodically once started, and that Stop() leaves the
// io_context with no work (run() returns) so that shutdown is never held up.
TEST(HeapTrimmerTest, TrimsPeriodicallyAndStops) {
  boost::asio::io_context io;
  HeapTrimmer trimmer(io.get_executor(), std::chrono::milliseconds(1));
  trimmer.Start();
  trimmer.Start();  // idempotent
  while (trimmer.trims() < 3) io.run_one();
  trimmer.Stop();
  io.run();  // returns: nothing left armed
  EXPECT_GE(trimmer.trims(), 3u);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define CMLR_SANITIZED_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define CMLR_SANITIZED_HEAP 1
#endif
#endif

// Verifies that a trim after freeing a large transient allocation succeeds (glibc hands the
// pages back). Sanitizers replace malloc with allocators of their own, which malloc_trim
// cannot see, so there the test is skipped rather than made unable to fail.
TEST(HeapTrimmerTest, TrimNowReleasesFreedPages) {
#if defined(CMLR_SANITIZED_HEAP) || !defined(__GLIBC__)
  GTEST_SKIP() << "malloc_trim only acts on glibc's own allocator (no sanitizer)";
#else
  {
    std::vector<std::unique_ptr<char[]> > blocks;
    for (int i = 0; i < 256; ++i) blocks.push_back(std::make_unique<char[]>(4096));
  }
  EXPECT_TRUE(HeapTrimmer::TrimNow());
#endif
}

}  // namespace
}  // namespace cmlr::daemon
