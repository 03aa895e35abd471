#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>

#include "common/clock.h"
#include "common/http_server.h"
#include "controllers/status_store.h"

namespace cmlr::daemon {

struct EventStreamOptions {
  // Streams open at once; one more is refused (the endpoint answers 503).
  std::size_t max_clients = 32;
  // Bytes queued for one client beyond its initial snapshot; a client that falls further
  // behind is disconnected (its EventSource reconnects and starts from a fresh snapshot).
  std::size_t max_buffered_bytes = 1 << 20;
  // A comment line (": ping") after this long without events, so proxies keep the stream.
  common::Duration keepalive = std::chrono::seconds(20);
};

// The Server-Sent Events behind GET /api/v1/events (design section 7, contract):
//   event: model      data: ENTRY (controllers::ToJson of the model's status, one line)
//   event: removed    data: {"name": NAME}   (a model whose status is gone)
// A new client first gets the current ENTRY of every model, sorted by name, then one event
// whenever an ENTRY's text changes. Events reach every client in the same order. Fed by the
// controller's status observer (OnStatus). Never blocks: a client too slow to read is dropped
// (common::HttpStream's bound). Used on the io_context thread only; `statuses` must outlive it.
class EventStream {
 public:
  explicit EventStream(const controllers::StatusStore& statuses, EventStreamOptions options = {});

  // A new client's stream on `executor`, the snapshot already queued; nullptr when
  // max_clients streams are open.
  std::shared_ptr<common::HttpStream> Subscribe(boost::asio::any_io_executor executor);

  // The controller's status observer: sends `status` to every client when its ENTRY changed,
  // and a `removed` event for models no longer in the store.
  void OnStatus(const controllers::ModelStatus& status);

  // Ends every stream after what is queued.
  void CloseAll();

  // Open streams (finished ones are forgotten first).
  std::size_t clients();

 private:
  void Prune();
  void Broadcast(const std::string& event);
  // Sends a `removed` event for every model sent before and no longer in the store.
  void SendRemovals();

  const controllers::StatusStore& statuses_;
  EventStreamOptions options_;
  std::vector<std::shared_ptr<common::HttpStream>> clients_;
  // The ENTRY text last sent per model; empty while nobody listens.
  std::map<std::string, std::string, std::less<>> sent_;
};

// One SSE event: "event: EVENT\ndata: DATA\n\n" (`data` must hold no newline).
std::string FormatSseEvent(std::string_view event, std::string_view data);

// A model's ENTRY as one line of JSON (invalid UTF-8 replaced, never thrown).
std::string EntryLine(const controllers::ModelStatus& status);

}  // namespace cmlr::daemon
