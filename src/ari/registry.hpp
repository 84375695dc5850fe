// Handler registry and event dispatch: hash maps from resource id to handlers, RAII removal,
// self-expiry of resource subscriptions on their terminal event.
#pragma once

#include <astmrf/ari/client.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace astmrf::ari::detail {

struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

class Registry {
 public:
  std::uint64_t add_global(Client::EventHandler fn);
  std::uint64_t add_type(EventType type, Client::EventHandler fn);
  std::uint64_t add_resource(ResourceKind kind, std::string key, Client::EventHandler fn, Client::EndHandler on_end);
  std::uint64_t add_state(Client::StateHandler fn);
  std::uint64_t add_reconcile(Client::ReconcileHandler fn);

  /// Removes a registration without calling anything. Safe during dispatch (deferred).
  void remove(std::uint64_t id) noexcept;
  bool contains(std::uint64_t id) const noexcept;

  void dispatch(const Event& e);
  /// Ends every subscription on (kind, key): removes them, then calls their end handlers.
  void end_resource(ResourceKind kind, std::string_view key, EndReason reason);
  /// Ends everything (client closed).
  void close_all();

  void publish_state(ConnectionState s, boost::system::error_code ec);
  void publish_reconcile(const ReconcileReport& r);

  /// Ids with at least one live resource subscription.
  std::vector<std::string> tracked(ResourceKind kind) const;
  std::size_t size() const noexcept { return entries_.size() - dead_.size(); }

 private:
  enum class What : std::uint8_t { global, by_type, resource, state, reconcile };
  struct Entry {
    What what{};
    EventType type{};
    ResourceKind kind{};
    bool dead = false;
    std::string key;
    Client::EventHandler on_event;
    Client::EndHandler on_end;
    Client::StateHandler on_state;
    Client::ReconcileHandler on_reconcile;
  };
  using Index = std::unordered_map<std::string, std::vector<std::uint64_t>, StringHash, std::equal_to<>>;

  std::uint64_t insert(Entry e);
  void unlink(std::uint64_t id, const Entry& e);
  void call(std::uint64_t id, const Event& e);
  void flush() noexcept;

  std::uint64_t next_id_ = 1;
  std::unordered_map<std::uint64_t, Entry> entries_;
  std::vector<std::uint64_t> global_;
  std::unordered_map<std::uint16_t, std::vector<std::uint64_t>> by_type_;
  std::array<Index, kResourceKinds> index_;
  std::vector<std::uint64_t> state_;
  std::vector<std::uint64_t> reconcile_;
  int depth_ = 0;                    // > 0 while handlers run: erasure is deferred
  std::vector<std::uint64_t> dead_;  // removed during dispatch, erased by flush()
};

}  // namespace astmrf::ari::detail
