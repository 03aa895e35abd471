#include "controllers/shared_listings.h"

#include <functional>
#include <optional>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace cmlr::controllers {

namespace net = boost::asio;
using common::StatusOr;

// Keyed listings of type T, each kept for `max_age` after the fetch that produced it began.
template <typename T>
class SharedListings::Cache {
 public:
  using Value = std::shared_ptr<const T>;
  using Fetch = std::function<net::awaitable<StatusOr<T>>()>;

  Cache(common::Clock& clock, common::Duration max_age) : clock_(clock), max_age_(max_age) {}

  net::awaitable<StatusOr<Value>> Get(std::string key, Fetch fetch) {
    Entry& entry = entries_[key];
    if (entry.value && clock_.Now() - entry.fetched_at < max_age_) co_return entry.value;
    if (std::shared_ptr<Flight> flight = entry.flight) {
      // Someone is fetching it: wait for their answer. The timer never expires; the fetch
      // cancels it when done (or when its coroutine goes away, see Landing).
      boost::system::error_code ignored;
      co_await flight->done.async_wait(net::redirect_error(net::use_awaitable, ignored));
      if (!flight->result) co_return common::CancelledError("shared listing fetch abandoned");
      co_return *flight->result;
    }

    auto flight = std::make_shared<Flight>(co_await net::this_coro::executor);
    entry.flight = flight;
    Landing landing{*this, key, flight};
    const common::TimePoint started = clock_.Now();
    StatusOr<T> fetched = co_await fetch();
    StatusOr<Value> result = fetched.status();
    if (fetched.ok()) {
      auto value = std::make_shared<const T>(std::move(fetched).value());
      Entry& landed = entries_[key];
      landed.value = value;
      landed.fetched_at = started;
      result = std::move(value);
    }
    flight->result = result;
    co_return result;
  }

 private:
  struct Flight {
    explicit Flight(net::any_io_executor executor)
        : done(executor, net::steady_timer::time_point::max()) {}
    net::steady_timer done;
    std::optional<StatusOr<Value>> result;
  };
  struct Entry {
    Value value;
    common::TimePoint fetched_at{};
    std::shared_ptr<Flight> flight;
  };
  // Ends a fetch however its coroutine ends (answer, exception, destruction at shutdown):
  // forgets the flight and wakes its waiters.
  struct Landing {
    Cache& cache;
    std::string key;
    std::shared_ptr<Flight> flight;
    ~Landing() {
      cache.entries_[key].flight.reset();
      flight->done.cancel();
    }
  };

  common::Clock& clock_;
  common::Duration max_age_;
  std::map<std::string, Entry, std::less<>> entries_;
};

SharedListings::SharedListings(api::CmlClient& client, common::Clock& clock,
                               common::Duration max_age)
    : models_(std::make_unique<Cache<std::vector<api::Model>>>(clock, max_age)),
      runtimes_(std::make_unique<Cache<std::vector<api::Runtime>>>(clock, max_age)),
      client_(client) {}

SharedListings::~SharedListings() = default;

net::awaitable<StatusOr<SharedListings::Models>> SharedListings::ProjectModels(
    std::string project_id) {
  // Named, not a temporary in the co_await: GCC 12 destroys such temporaries twice.
  Cache<std::vector<api::Model>>::Fetch fetch = [&client = client_, project_id] {
    return client.ListModels(project_id, api::ListOptions());
  };
  co_return co_await models_->Get(project_id, std::move(fetch));
}

net::awaitable<StatusOr<SharedListings::Runtimes>> SharedListings::AllRuntimes() {
  Cache<std::vector<api::Runtime>>::Fetch fetch = [&client = client_] {
    return client.ListRuntimes(api::ListOptions());
  };
  co_return co_await runtimes_->Get(std::string(), std::move(fetch));
}

}  // namespace cmlr::controllers
