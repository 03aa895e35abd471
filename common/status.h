#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace cmlr::common {

// Codes say what the caller should do next (house style point 8). The numbers match gRPC's, so
// a code read from a CML `runtimeError` body maps one to one.
enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,   // fix the input; do not retry until it changes
  kDeadlineExceeded = 4,  // a deadline passed; retry with backoff
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,  // alert; retry slowly
  kResourceExhausted = 8,
  kFailedPrecondition = 9,  // the system is not in the state the operation needs
  kAborted = 10,            // conflict: re-read, then retry
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,  // network, timeout, 429, 5xx: back off and retry
  kDataLoss = 15,
  kUnauthenticated = 16,  // alert; retry slowly
};

// "INVALID_ARGUMENT" style name of a code.
std::string_view StatusCodeName(StatusCode code);

// The result of an operation: OK, or a code with a human-readable message. Messages are
// path-qualified where they concern input ("spec.resources.cpu: expected a number") and never
// carry secrets.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message);

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // True when a write was sent but its answer was lost: the change may or may not have been
  // applied, so the caller must re-observe before writing again.
  bool outcome_unknown() const { return outcome_unknown_; }
  Status WithOutcomeUnknown() && {
    outcome_unknown_ = true;
    return std::move(*this);
  }

  // The HTTP status of the response this status came from, or 0 when there was none.
  int http_status() const { return http_status_; }
  Status WithHttpStatus(int http_status) && {
    http_status_ = http_status;
    return std::move(*this);
  }

  // Returns a copy whose message is "prefix: message" (no change when OK).
  Status Annotate(std::string_view prefix) const;

  // "NOT_FOUND: model x" or "OK".
  std::string ToString() const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
  bool outcome_unknown_ = false;
  int http_status_ = 0;
};

std::ostream& operator<<(std::ostream& os, const Status& status);

inline Status OkStatus() { return Status(); }
Status CancelledError(std::string message);
Status UnknownError(std::string message);
Status InvalidArgumentError(std::string message);
Status DeadlineExceededError(std::string message);
Status NotFoundError(std::string message);
Status AlreadyExistsError(std::string message);
Status PermissionDeniedError(std::string message);
Status ResourceExhaustedError(std::string message);
Status FailedPreconditionError(std::string message);
Status AbortedError(std::string message);
Status OutOfRangeError(std::string message);
Status UnimplementedError(std::string message);
Status InternalError(std::string message);
Status UnavailableError(std::string message);
Status DataLossError(std::string message);
Status UnauthenticatedError(std::string message);

// A value or the non-OK Status that explains its absence. Constructing one from an OK status
// is a programming error and yields an INTERNAL status instead.
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  StatusOr(const T& value) : value_(value) {}        // NOLINT(google-explicit-constructor)
  StatusOr(T&& value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  template <typename U>
  requires(std::is_constructible_v<T, U&&> && !std::is_same_v<std::decay_t<U>, Status> &&
           !std::is_same_v<std::decay_t<U>, StatusOr<T>> && !std::is_same_v<std::decay_t<U>, T>)
      StatusOr(U&& value)
      : value_(std::forward<U>(value)) {}  // NOLINT(google-explicit-constructor)
  StatusOr(Status status)                  // NOLINT(google-explicit-constructor)
      : status_(status.ok() ? InternalError("StatusOr constructed from an OK status")
                            : std::move(status)) {}

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // Precondition for the accessors below: ok().
  const T& value() const& { return *value_; }
  T& value() & { return *value_; }
  T&& value() && { return std::move(*value_); }
  const T& operator*() const& { return *value_; }
  T& operator*() & { return *value_; }
  T&& operator*() && { return std::move(*value_); }
  const T* operator->() const { return &*value_; }
  T* operator->() { return &*value_; }

  template <typename U>
  T value_or(U&& fallback) const& {
    return ok() ? *value_ : static_cast<T>(std::forward<U>(fallback));
  }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace cmlr::common

#define CMLR_STATUS_CONCAT_INNER_(a, b) a##b
#define CMLR_STATUS_CONCAT_(a, b) CMLR_STATUS_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define CMLR_RETURN_IF_ERROR(expr)                \
  do {                                            \
    ::cmlr::common::Status cmlr_status_ = (expr); \
    if (!cmlr_status_.ok()) return cmlr_status_;  \
  } while (false)

// The same for coroutines.
#define CMLR_CO_RETURN_IF_ERROR(expr)               \
  do {                                              \
    ::cmlr::common::Status cmlr_status_ = (expr);   \
    if (!cmlr_status_.ok()) co_return cmlr_status_; \
  } while (false)

// `lhs = value of expr`, or return its status from the enclosing function.
#define CMLR_ASSIGN_OR_RETURN(lhs, expr) \
  CMLR_ASSIGN_OR_RETURN_IMPL_(CMLR_STATUS_CONCAT_(cmlr_statusor_, __LINE__), lhs, expr, return )
#define CMLR_CO_ASSIGN_OR_RETURN(lhs, expr) \
  CMLR_ASSIGN_OR_RETURN_IMPL_(CMLR_STATUS_CONCAT_(cmlr_statusor_, __LINE__), lhs, expr, co_return )
#define CMLR_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr, ret) \
  auto tmp = (expr);                                     \
  if (!tmp.ok()) ret tmp.status();                       \
  lhs = std::move(tmp).value()
