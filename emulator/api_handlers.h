#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/status.h"
#include "emulator/emulator_state.h"
#include "emulator/quirks.h"

namespace cmlr::emulator {

// An /api/v2 path matched to its operation (the cmlapi Python method name, cml-apiv2.md 6).
struct ApiRoute {
  std::string operation;  // empty: no such path
  bool is_write = false;
  bool method_allowed = false;
  std::vector<std::string> ids;  // path parameters in order, percent-decoded
};

// Matches a path (without query) such as /api/v2/projects/P/models/M.
ApiRoute MatchApiRoute(boost::beast::http::verb method, std::string_view path);

std::string PercentDecode(std::string_view text, bool plus_as_space);
// Query parameters, decoded; camelCase aliases (pageSize, pageToken, searchFilter) are folded
// into their snake_case names as grpc-gateway accepts both.
std::map<std::string, std::string, std::less<>> ParseQuery(std::string_view query);

struct ApiContext {
  EmulatorState& state;
  bool strict = true;
  common::TimePoint now;
  const User& user;
  // Shapes answers: list-lag, sparse-lists, nan-metrics, zero-times, patch-replaces and
  // forbidden-for-missing are applied here (the others by the state and the Emulator).
  const Quirks& quirks;
};

// Performs one API v2 operation and returns its response body (already in wire encoding), or
// the error status to answer with (PERMISSION_DENIED instead of NOT_FOUND for a get, :stop or
// :restart under forbidden-for-missing).
[[nodiscard]] common::StatusOr<nlohmann::json> HandleApiCall(
    const ApiContext& context, const ApiRoute& route,
    const std::map<std::string, std::string, std::less<>>& query, std::string_view body);

}  // namespace cmlr::emulator
