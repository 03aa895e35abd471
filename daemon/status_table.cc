#include "daemon/status_table.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <exception>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include "common/duration.h"

namespace cmlr::daemon {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using nlohmann::json;

namespace {

constexpr std::string_view kMissing = "-";
constexpr std::string_view kColumnGap = "   ";
constexpr std::size_t kMaxCellWidth = 48;
constexpr std::size_t kMinMessageWidth = 24;
// 1000 models with 20 history entries each stay far below this.
constexpr std::uint64_t kMaxResponseBytes = 64ull << 20;

const json* Member(const json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// A scalar as text; "-" for a missing, null, empty or structured value.
std::string Text(const json* value) {
  if (value == nullptr) return std::string(kMissing);
  if (value->is_string()) {
    const auto& text = value->get_ref<const std::string&>();
    return text.empty() ? std::string(kMissing) : text;
  }
  if (value->is_number() || value->is_boolean()) return value->dump();
  return std::string(kMissing);
}

std::string Text(const json& object, std::string_view key) { return Text(Member(object, key)); }

// One line, at most `width` bytes, never cut inside a UTF-8 sequence, "..." where it was cut.
std::string Shorten(std::string text, std::size_t width) {
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r' || c == '\t'; }, ' ');
  if (text.size() <= width) return text;
  std::size_t cut = width > 3 ? width - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  text.resize(cut);
  return text + "...";
}

std::string Replicas(const json& live) {
  const json* replicas = Member(live, "replicas");
  const json* desired = Member(live, "desiredReplicas");
  if (replicas == nullptr && desired == nullptr) return std::string(kMissing);
  return Text(replicas) + "/" + Text(desired);
}

std::string Version(const json& live) {
  const json* version = Member(live, "version");
  // The status store reports 0 before a version has been observed.
  if (version != nullptr && version->is_number() && version->get<double>() == 0) {
    return std::string(kMissing);
  }
  return Text(version);
}

std::string LastAction(const json& entry) {
  const json* history = Member(entry, "history");
  if (history == nullptr || !history->is_array() || history->empty()) {
    return std::string(kMissing);
  }
  const json& last = history->back();  // newest last
  std::string text = Text(last, "operation");
  const json* http_status = Member(last, "httpStatus");
  const json* error = Member(last, "error");
  const bool failed =
      error != nullptr && ((error->is_boolean() && error->get<bool>()) ||
                           (error->is_string() && !error->get<std::string>().empty()));
  if (http_status != nullptr && http_status->is_number() && http_status->get<double>() > 0) {
    text += " " + http_status->dump();
  } else if (failed) {
    text += " failed";
  }
  return text;
}

std::string ReadyMessage(const json& entry) {
  const json* conditions = Member(entry, "conditions");
  if (conditions == nullptr || !conditions->is_array()) return "";
  for (const json& condition : *conditions) {
    const json* type = Member(condition, "type");
    if (type != nullptr && type->is_string() && type->get<std::string>() == "Ready") {
      const std::string message = Text(condition, "message");
      return message == kMissing ? "" : message;
    }
  }
  return "";
}

struct HttpUrl {
  std::string host;  // without brackets
  std::string port;
  std::string prefix;  // "" or "/path" without a trailing slash
};

common::StatusOr<HttpUrl> ParseHttpUrl(std::string_view url) {
  constexpr std::string_view kScheme = "http://";
  if (!url.starts_with(kScheme)) {
    return common::InvalidArgumentError(
        fmt::format("{}: the daemon's status URL must start with http://", url));
  }
  std::string_view rest = url.substr(kScheme.size());
  const std::size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  HttpUrl parsed{.port = "80", .prefix = std::string(path)};
  std::string_view port;
  if (authority.starts_with('[')) {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      return common::InvalidArgumentError(fmt::format("{}: unclosed '[' in the host", url));
    }
    parsed.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) {
        return common::InvalidArgumentError(fmt::format("{}: malformed host and port", url));
      }
      port = after.substr(1);
    }
  } else {
    const std::size_t colon = authority.rfind(':');
    parsed.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (parsed.host.empty()) return common::InvalidArgumentError(fmt::format("{}: no host", url));
  if (!port.empty()) {
    unsigned number = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc() || end != port.data() + port.size() || number == 0 || number > 65535) {
      return common::InvalidArgumentError(fmt::format("{}: invalid port '{}'", url, port));
    }
    parsed.port = std::string(port);
  }
  return parsed;
}

std::string Describe(const boost::system::error_code& ec) {
  std::string text = ec.message();
  if (!text.empty()) text[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(text[0])));
  return text;
}

struct FetchResult {
  common::Status status;
  json body;
};

net::awaitable<void> Fetch(std::string base_url, HttpUrl url, common::Duration timeout,
                           FetchResult* result) {
  const auto executor = co_await net::this_coro::executor;
  const std::string unreachable = fmt::format("cannot reach the daemon at {}", base_url);
  const std::string too_slow =
      fmt::format("{}: no answer within {}", unreachable, common::FormatDuration(timeout));
  boost::system::error_code ec;

  // Name resolution has no deadline of its own: a timer cancels it.
  tcp::resolver resolver(executor);
  net::steady_timer resolve_deadline(executor);
  resolve_deadline.expires_after(timeout);
  bool resolve_timed_out = false;
  resolve_deadline.async_wait([&](boost::system::error_code timer_ec) {
    if (timer_ec) return;
    resolve_timed_out = true;
    resolver.cancel();
  });
  const auto endpoints = co_await resolver.async_resolve(
      url.host, url.port, net::redirect_error(net::use_awaitable, ec));
  resolve_deadline.cancel();
  if (resolve_timed_out) {
    result->status = common::UnavailableError(too_slow);
    co_return;
  }
  if (ec) {
    result->status = common::UnavailableError(fmt::format("{}: {}", unreachable, Describe(ec)));
    co_return;
  }

  // One expiry bounds the connect, the request and the response.
  beast::tcp_stream stream(executor);
  stream.expires_after(timeout);
  co_await stream.async_connect(endpoints, net::redirect_error(net::use_awaitable, ec));
  if (ec == beast::error::timeout) {
    result->status = common::UnavailableError(too_slow);
    co_return;
  }
  if (ec) {
    result->status = common::UnavailableError(fmt::format("{}: {}", unreachable, Describe(ec)));
    co_return;
  }

  http::request<http::string_body> request{http::verb::get, url.prefix + "/api/v1/status", 11};
  const bool ipv6 = url.host.find(':') != std::string::npos;
  request.set(http::field::host, ipv6 ? fmt::format("[{}]:{}", url.host, url.port)
                                      : fmt::format("{}:{}", url.host, url.port));
  request.set(http::field::accept, "application/json");
  request.set(http::field::user_agent, "cml-reconciler status");
  co_await http::async_write(stream, request, net::redirect_error(net::use_awaitable, ec));
  if (!ec) {
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxResponseBytes);
    co_await http::async_read(stream, buffer, parser, net::redirect_error(net::use_awaitable, ec));
    if (!ec) {
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      const auto& response = parser.get();
      const unsigned code = response.result_int();
      if (code != 200) {
        const std::string message =
            fmt::format("the daemon at {} answered {} {}: {}", base_url, code,
                        std::string(response.reason()), Shorten(response.body(), 200));
        result->status = (code >= 500 ? common::UnavailableError(message)
                                      : common::FailedPreconditionError(message))
                             .WithHttpStatus(static_cast<int>(code));
        co_return;
      }
      result->body = json::parse(response.body(), nullptr, /*allow_exceptions=*/false);
      if (result->body.is_discarded()) {
        result->status = common::InternalError(
            fmt::format("the daemon at {} answered with a body that is not JSON", base_url));
      }
      co_return;
    }
  }
  if (ec == beast::error::timeout) {
    result->status = common::UnavailableError(too_slow);
  } else {
    result->status = common::UnavailableError(
        fmt::format("the daemon at {} broke off the exchange: {}", base_url, Describe(ec)));
  }
}

}  // namespace

std::string FormatStatusTable(const json& status_response) {
  const json* models = Member(status_response, "models");
  if (models == nullptr || !models->is_array() || models->empty()) {
    return "No models: the daemon has no model in its desired state or status yet.\n";
  }
  constexpr std::size_t kColumns = 7;
  using Row = std::array<std::string, kColumns>;
  std::vector<Row> rows;
  rows.push_back({"NAME", "SYNC", "HEALTH", "VERSION", "REPLICAS", "LAST ACTION", "MESSAGE"});
  for (const json& entry : *models) {
    const json* live_member = Member(entry, "live");
    const json& live = live_member != nullptr ? *live_member : json::object();
    rows.push_back({Shorten(Text(entry, "name"), kMaxCellWidth + 16),
                    Shorten(Text(entry, "sync"), kMaxCellWidth),
                    Shorten(Text(entry, "health"), kMaxCellWidth), Version(live), Replicas(live),
                    Shorten(LastAction(entry), kMaxCellWidth), ReadyMessage(entry)});
  }
  std::array<std::size_t, kColumns> widths{};
  for (const Row& row : rows) {
    for (std::size_t i = 0; i + 1 < kColumns; ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string table;
  for (const Row& row : rows) {
    std::string line;
    for (std::size_t i = 0; i + 1 < kColumns; ++i) {
      line += row[i];
      line.append(widths[i] - row[i].size(), ' ');
      line += kColumnGap;
    }
    const std::size_t room =
        std::max(kMinMessageWidth,
                 kMaxStatusLineWidth > line.size() ? kMaxStatusLineWidth - line.size() : 0);
    line += Shorten(row[kColumns - 1], room);
    while (line.ends_with(' ')) line.pop_back();
    table += line;
    table += '\n';
  }
  return table;
}

common::StatusOr<json> FetchStatus(const std::string& base_url, common::Duration timeout) {
  CMLR_ASSIGN_OR_RETURN(HttpUrl url, ParseHttpUrl(base_url));
  FetchResult result;
  net::io_context io(1);
  std::exception_ptr failure;
  net::co_spawn(io, Fetch(base_url, std::move(url), timeout, &result),
                [&failure](std::exception_ptr error) { failure = error; });
  io.run();
  if (failure) {
    // Asio throws only on resource exhaustion here; it stops at this adapter.
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& error) {
      return common::InternalError(
          fmt::format("fetching the status from {}: {}", base_url, error.what()));
    } catch (...) {
      return common::InternalError(fmt::format("fetching the status from {} failed", base_url));
    }
  }
  if (!result.status.ok()) return result.status;
  return std::move(result.body);
}

}  // namespace cmlr::daemon
