#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "api/cml_client.h"
#include "common/clock.h"
#include "common/status.h"

namespace cmlr::controllers {

// Listings that many models' passes share: the models of a project and the runtime catalogue.
// One listing serves every pass that asks for it within `max_age`; passes that ask while it is
// being fetched wait for that fetch instead of starting their own (one call, many readers).
//
// What it serves is at most `max_age` old, so it is only good for deciding that nothing needs
// doing (the resync of a synced model, design P2). A write is never planned from it: the
// reconciler observes afresh before any write (design section 11). Failed fetches are not
// kept: every waiter gets the error, and the next ask fetches again.
//
// Runs on the io_context thread, like the reconciler. `client` and `clock` must outlive it.
class SharedListings {
 public:
  using Models = std::shared_ptr<const std::vector<api::Model>>;
  using Runtimes = std::shared_ptr<const std::vector<api::Runtime>>;

  SharedListings(api::CmlClient& client, common::Clock& clock, common::Duration max_age);
  ~SharedListings();
  SharedListings(const SharedListings&) = delete;
  SharedListings& operator=(const SharedListings&) = delete;

  // Every model of `project_id` (all pages, no filter).
  boost::asio::awaitable<common::StatusOr<Models>> ProjectModels(std::string project_id);
  // Every runtime of the workspace (all pages, no filter: selectors are resolved locally).
  boost::asio::awaitable<common::StatusOr<Runtimes>> AllRuntimes();

 private:
  template <typename T>
  class Cache;

  std::unique_ptr<Cache<std::vector<api::Model>>> models_;
  std::unique_ptr<Cache<std::vector<api::Runtime>>> runtimes_;
  api::CmlClient& client_;
};

}  // namespace cmlr::controllers
