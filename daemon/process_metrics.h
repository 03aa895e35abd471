#pragma once

#include <filesystem>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

namespace cmlr::daemon {

// The standard process metrics, named and typed as the Prometheus client libraries define them
// (client_golang's process collector), read from procfs at each collection:
//
//   process_cpu_seconds_total      counter  user + system CPU time         /proc/self/stat
//   process_resident_memory_bytes  gauge    resident set size              /proc/self/stat
//   process_virtual_memory_bytes   gauge    virtual memory size            /proc/self/stat
//   process_open_fds               gauge    open file descriptors          /proc/self/fd
//   process_max_fds                gauge    soft limit on open descriptors /proc/self/limits
//   process_start_time_seconds     gauge    start time, Unix seconds       stat + /proc/stat btime
//
// A family whose source cannot be read or parsed is left out of that collection (there is no
// procfs outside Linux); Collect() never throws. Stateless apart from the procfs root, so it
// may be collected from any thread.
//
// Usage: append Collect()'s families to the registry's before serialising, or hand a
// shared_ptr to an Exposer with RegisterCollectable() (prometheus-cpp 1.0's Registry itself
// takes no foreign collectables).
class ProcessMetrics final : public prometheus::Collectable {
 public:
  // `proc_root` is where procfs is mounted; tests point it at a directory of canned files.
  explicit ProcessMetrics(std::filesystem::path proc_root = "/proc");

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::filesystem::path proc_root_;
  double ticks_per_second_;
  double page_size_;
};

}  // namespace cmlr::daemon
