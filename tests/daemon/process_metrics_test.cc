#include "daemon/process_metrics.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include "common/clock.h"

namespace cmlr::daemon {
namespace {

namespace fs = std::filesystem;

// The single value of `name` in `families`, or nullopt when the family is absent.
std::optional<double> ValueOf(const std::vector<prometheus::MetricFamily>& families,
                              const std::string& name) {
  for (const prometheus::MetricFamily& family : families) {
    if (family.name != name || family.metric.size() != 1) continue;
    return family.type == prometheus::MetricType::Counter ? family.metric[0].counter.value
                                                          : family.metric[0].gauge.value;
  }
  return std::nullopt;
}

// Verifies that the values read from this process are plausible.
TEST(ProcessMetricsTest, ReportsPlausibleValuesForThisProcess) {
  const auto families = ProcessMetrics().Collect();

  ASSERT_EQ(families.size(), 6u);
  EXPECT_GE(ValueOf(families, "process_cpu_seconds_total").value_or(-1), 0);
  EXPECT_GT(ValueOf(families, "process_resident_memory_bytes").value_or(0), 1 << 20);
  EXPECT_GT(ValueOf(families, "process_virtual_memory_bytes").value_or(0),
            ValueOf(families, "process_resident_memory_bytes").value_or(0));
  EXPECT_GE(ValueOf(families, "process_open_fds").value_or(0), 3);
  EXPECT_GE(ValueOf(families, "process_max_fds").value_or(0),
            ValueOf(families, "process_open_fds").value_or(0));
  const double now = common::ToUnixSeconds(common::RealClock().Now());
  const double start = ValueOf(families, "process_start_time_seconds").value_or(0);
  EXPECT_LE(start, now + 1);  // procfs counts in clock ticks: allow for rounding
  EXPECT_GT(start, now - 3600);
}

// Verifies that opening a file raises process_open_fds by exactly one.
TEST(ProcessMetricsTest, CountsOpenFileDescriptors) {
  const ProcessMetrics metrics;
  const double before = ValueOf(metrics.Collect(), "process_open_fds").value_or(-1);
  const int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  const double during = ValueOf(metrics.Collect(), "process_open_fds").value_or(-1);
  ::close(fd);

  EXPECT_EQ(during, before + 1);
}

// Verifies that the text format carries each standard family with its TYPE line.
TEST(ProcessMetricsTest, SerializesStandardFamiliesWithTypes) {
  const std::string text = prometheus::TextSerializer().Serialize(ProcessMetrics().Collect());

  for (const char* line :
       {"# TYPE process_cpu_seconds_total counter\n",
        "# TYPE process_resident_memory_bytes gauge\n",
        "# TYPE process_virtual_memory_bytes gauge\n", "# TYPE process_open_fds gauge\n",
        "# TYPE process_max_fds gauge\n", "# TYPE process_start_time_seconds gauge\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "in:\n" << text;
  }
  EXPECT_NE(text.find("\nprocess_cpu_seconds_total "), std::string::npos) << text;
  EXPECT_NE(text.find("\nprocess_start_time_seconds "), std::string::npos) << text;
}

class CannedProcTest : public ::testing::Test {
 protected:
  CannedProcTest() {
    std::string pattern = (fs::temp_directory_path() / "cmlr-proc-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    root_ = pattern;
    fs::create_directories(root_ / "self" / "fd");
  }
  ~CannedProcTest() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void Write(const fs::path& relative, const std::string& text) {
    std::ofstream(root_ / relative) << text;
  }

  fs::path root_;
};

// Verifies the arithmetic on canned procfs files: ticks to seconds, pages to bytes, boot time
// plus start ticks, the soft fd limit, and a command name holding spaces and parentheses.
TEST_F(CannedProcTest, ComputesValuesFromProcfsFields) {
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  // Fields 14 and 15 (utime, stime) = 3 s of ticks together, 22 (starttime) = 50 s of ticks,
  // 23 (vsize) = 1 GB, 24 (rss) = 1000 pages.
  Write("self/stat",
        fmt::format("42 (cml (re) conciler) S 1 42 42 0 -1 4194304 100 0 0 0 {} {} 0 0 20 0 9 0 "
                    "{} 1000000000 1000 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0\n",
                    2 * ticks, ticks, 50 * ticks));
  Write("stat", "cpu  1 2 3 4\nbtime 1795755799\nprocesses 7\n");
  Write("self/limits",
        "Limit                     Soft Limit           Hard Limit           Units     \n"
        "Max open files            1024                 4096                 files     \n");
  for (const char* fd : {"0", "1", "2", "7"}) Write(fs::path("self/fd") / fd, "");

  const auto families = ProcessMetrics(root_).Collect();

  EXPECT_DOUBLE_EQ(ValueOf(families, "process_cpu_seconds_total").value_or(-1), 3);
  EXPECT_DOUBLE_EQ(ValueOf(families, "process_virtual_memory_bytes").value_or(-1), 1e9);
  EXPECT_DOUBLE_EQ(ValueOf(families, "process_resident_memory_bytes").value_or(-1), 1000 * page);
  EXPECT_DOUBLE_EQ(ValueOf(families, "process_start_time_seconds").value_or(-1), 1795755799.0 + 50);
  EXPECT_DOUBLE_EQ(ValueOf(families, "process_max_fds").value_or(-1), 1024);
  EXPECT_DOUBLE_EQ(ValueOf(families, "process_open_fds").value_or(-1), 4);
}

// Verifies that families whose sources are missing or garbled are left out, without throwing.
TEST_F(CannedProcTest, LeavesOutFamiliesItCannotRead) {
  Write("self/stat", "garbage without the command name");
  fs::remove_all(root_ / "self" / "fd");

  const auto families = ProcessMetrics(root_).Collect();

  EXPECT_TRUE(families.empty());
}

}  // namespace
}  // namespace cmlr::daemon
