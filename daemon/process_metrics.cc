#include "daemon/process_metrics.h"

#include <unistd.h>

#include <charconv>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <prometheus/client_metric.h>
#include <prometheus/metric_type.h>

namespace cmlr::daemon {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(text).str();
}

std::optional<double> ParseNumber(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// The fields of /proc/[pid]/stat that follow "(comm)", split on spaces. The command name may
// itself hold spaces and parentheses, hence the search for the last ')'. fields[0] is field 3
// (state) of proc(5).
std::vector<std::string_view> StatFields(std::string_view stat) {
  std::vector<std::string_view> fields;
  const std::size_t close = stat.rfind(')');
  if (close == std::string_view::npos) return fields;
  std::string_view rest = stat.substr(close + 1);
  while (!rest.empty()) {
    const std::size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const std::size_t end = rest.find_first_of(" \n");
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  return fields;
}

// The value of field `number` (1-based, as proc(5) numbers them) of a stat line.
std::optional<double> StatField(const std::vector<std::string_view>& fields, std::size_t number) {
  if (number < 3 || number - 3 >= fields.size()) return std::nullopt;
  return ParseNumber(fields[number - 3]);
}

// "btime 1795755799" in /proc/stat: the boot time in Unix seconds.
std::optional<double> BootTime(const fs::path& proc_root) {
  std::ifstream in(proc_root / "stat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("btime ")) return ParseNumber(std::string_view(line).substr(6));
  }
  return std::nullopt;
}

// The soft limit of "Max open files" in /proc/self/limits; +Inf for "unlimited".
std::optional<double> MaxOpenFiles(const fs::path& proc_root) {
  std::ifstream in(proc_root / "self" / "limits");
  std::string line;
  constexpr std::string_view kPrefix = "Max open files";
  while (std::getline(in, line)) {
    if (!line.starts_with(kPrefix)) continue;
    std::istringstream fields(line.substr(kPrefix.size()));
    std::string soft;
    fields >> soft;
    if (soft == "unlimited") return std::numeric_limits<double>::infinity();
    return ParseNumber(soft);
  }
  return std::nullopt;
}

std::optional<double> OpenFds(const fs::path& proc_root) {
  std::error_code ec;
  double count = 0;
  for (fs::directory_iterator it(proc_root / "self" / "fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++count;
  }
  if (ec) return std::nullopt;
  return count;
}

void Add(std::vector<prometheus::MetricFamily>& families, std::string name, std::string help,
         prometheus::MetricType type, std::optional<double> value) {
  if (!value) return;
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = *value;
  } else {
    metric.gauge.value = *value;
  }
  families.push_back({.name = std::move(name),
                      .help = std::move(help),
                      .type = type,
                      .metric = {std::move(metric)}});
}

}  // namespace

ProcessMetrics::ProcessMetrics(fs::path proc_root)
    : proc_root_(std::move(proc_root)),
      ticks_per_second_(static_cast<double>(::sysconf(_SC_CLK_TCK))),
      page_size_(static_cast<double>(::sysconf(_SC_PAGESIZE))) {}

std::vector<prometheus::MetricFamily> ProcessMetrics::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  const std::string stat_text = ReadFile(proc_root_ / "self" / "stat").value_or("");
  const std::vector<std::string_view> stat_fields = StatFields(stat_text);
  const auto utime = StatField(stat_fields, 14);
  const auto stime = StatField(stat_fields, 15);
  const auto start_ticks = StatField(stat_fields, 22);
  const auto vsize = StatField(stat_fields, 23);
  const auto rss_pages = StatField(stat_fields, 24);

  std::optional<double> cpu;
  if (utime && stime && ticks_per_second_ > 0) cpu = (*utime + *stime) / ticks_per_second_;
  std::optional<double> rss;
  if (rss_pages && page_size_ > 0) rss = *rss_pages * page_size_;
  std::optional<double> start_time;
  const auto boot_time = BootTime(proc_root_);
  if (start_ticks && boot_time && ticks_per_second_ > 0) {
    start_time = *boot_time + *start_ticks / ticks_per_second_;
  }

  Add(families, "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      MetricType::Counter, cpu);
  Add(families, "process_open_fds", "Number of open file descriptors.", MetricType::Gauge,
      OpenFds(proc_root_));
  Add(families, "process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge,
      MaxOpenFiles(proc_root_));
  Add(families, "process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge,
      vsize);
  Add(families, "process_resident_memory_bytes", "Resident memory size in bytes.",
      MetricType::Gauge, rss);
  Add(families, "process_start_time_seconds",
      "Start time of the process since unix epoch in seconds.", MetricType::Gauge, start_time);
  return families;
}

}  // namespace cmlr::daemon
