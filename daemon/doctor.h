#pragma once

#include <optional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include "api/cml_client.h"
#include "common/clock.h"
#include "config/snapshot.h"

namespace cmlr::daemon {

// `cml-reconciler doctor` (design sections 4a and 6): read-only checks of the assumptions the
// reconciler makes about a CML workspace, before the daemon is trusted with it.

enum class CheckResult { kPass, kWarn, kFail };

struct DoctorCheck {
  std::string name;  // "api key", "paging", "project abcd-1234-efgh-5678", ...
  CheckResult result = CheckResult::kPass;
  std::string message;
};

struct DoctorReport {
  std::vector<DoctorCheck> checks;
  bool failed() const;  // any FAIL
};

// What the HTTP exchange itself tells, outside the typed client: whether TLS was used and
// verified, and how far CML's clock (its `Date` header) is from ours.
struct EndpointProbe {
  std::string url;
  bool tls = false;
  std::optional<common::Duration> clock_skew;  // CML's Date minus our clock
  std::string error;                           // empty when the exchange worked
};

// Runs every check against `client`, which must be an api::ReadOnlyCmlClient (the checks only
// read, and the client makes sure of it). `desired` (nullable) adds the per-model checks:
// projects readable, runtimes resolving, registered models and versions found. Never fails as
// a whole: a failing call is a FAIL line. Runs on the client's executor.
boost::asio::awaitable<DoctorReport> RunDoctorChecks(
    api::CmlClient& client, std::shared_ptr<const config::Snapshot> desired, EndpointProbe probe);

// "PASS  name  message" lines, then a summary line. Ends with '\n'.
std::string FormatDoctorText(const DoctorReport& report);
// {"checks": [{"name", "result": "PASS|WARN|FAIL", "message"}], "pass": N, "warn": N, "fail": N}
nlohmann::json DoctorJson(const DoctorReport& report);

}  // namespace cmlr::daemon
