#include "daemon/event_stream.h"

#include <algorithm>
#include <utility>

#include <nlohmann/json.hpp>

namespace cmlr::daemon {

namespace {

constexpr std::string_view kKeepalive = ": ping\n\n";

}  // namespace

std::string FormatSseEvent(std::string_view event, std::string_view data) {
  std::string text;
  text.reserve(event.size() + data.size() + 16);
  text.append("event: ").append(event).append("\ndata: ").append(data).append("\n\n");
  return text;
}

std::string EntryLine(const controllers::ModelStatus& status) {
  // dump() without indentation escapes every control character: the text is one line.
  return controllers::ToJson(status).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

EventStream::EventStream(const controllers::StatusStore& statuses, EventStreamOptions options)
    : statuses_(statuses), options_(std::move(options)) {}

void EventStream::Prune() {
  std::erase_if(clients_, [](const auto& client) { return client->finished(); });
  if (clients_.empty()) sent_.clear();  // nobody listens: a new client starts from the store
}

std::size_t EventStream::clients() {
  Prune();
  return clients_.size();
}

void EventStream::Broadcast(const std::string& event) {
  for (const auto& client : clients_) client->Push(event);  // a refused client is pruned later
}

void EventStream::SendRemovals() {
  for (auto it = sent_.begin(); it != sent_.end();) {
    if (statuses_.Find(it->first) != nullptr) {
      ++it;
      continue;
    }
    Broadcast(
        FormatSseEvent("removed", nlohmann::json{{"name", it->first}}.dump(
                                      -1, ' ', false, nlohmann::json::error_handler_t::replace)));
    it = sent_.erase(it);
  }
}

void EventStream::OnStatus(const controllers::ModelStatus& status) {
  Prune();
  if (clients_.empty()) return;
  std::string line = EntryLine(status);
  auto [it, added] = sent_.try_emplace(status.name);
  if (added || it->second != line) {
    Broadcast(FormatSseEvent("model", line));
    it->second = std::move(line);
  }
  // The controller tells nobody when it erases a status: a store smaller than what was sent
  // means some model went. (Eventually exact: every model in the store is told after its pass.)
  if (sent_.size() > statuses_.all().size()) SendRemovals();
}

std::shared_ptr<common::HttpStream> EventStream::Subscribe(boost::asio::any_io_executor executor) {
  Prune();
  if (clients_.size() >= options_.max_clients) return nullptr;
  // Bring what was sent in line with the store first, so that the clients already listening
  // hear of every change the new one is about to see.
  std::vector<std::string> snapshot;
  snapshot.reserve(statuses_.all().size());
  std::size_t snapshot_bytes = 0;
  for (const auto& [name, status] : statuses_.all()) {
    std::string line = EntryLine(status);
    std::string event = FormatSseEvent("model", line);
    auto [it, added] = sent_.try_emplace(name);
    if (added || it->second != line) {
      Broadcast(event);
      it->second = std::move(line);
    }
    snapshot_bytes += event.size();
    snapshot.push_back(std::move(event));
  }
  SendRemovals();
  // The snapshot may be large (1000 models): the bound applies to what comes after it.
  auto stream = std::make_shared<common::HttpStream>(
      std::move(executor),
      common::HttpStreamOptions{.max_buffered_bytes = snapshot_bytes + options_.max_buffered_bytes,
                                .keepalive_interval = options_.keepalive,
                                .keepalive_chunk = std::string(kKeepalive)});
  for (std::string& event : snapshot) stream->Push(std::move(event));
  clients_.push_back(stream);
  return stream;
}

void EventStream::CloseAll() {
  for (const auto& client : clients_) client->Close();
  clients_.clear();
  sent_.clear();
}

}  // namespace cmlr::daemon
