#include "registry.hpp"

#include <boost/container/small_vector.hpp>

#include <algorithm>

namespace astmrf::ari::detail {

namespace {
using IdList = boost::container::small_vector<std::uint64_t, 8>;

void erase_value(std::vector<std::uint64_t>& v, std::uint64_t id) {
  auto it = std::find(v.begin(), v.end(), id);
  if (it != v.end()) v.erase(it);
}

// Guards handler invocation: erasures requested meanwhile are deferred to the outermost level.
struct DepthGuard {
  int& depth;
  explicit DepthGuard(int& d) : depth(d) { ++depth; }
  ~DepthGuard() { --depth; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;
};
}  // namespace

std::uint64_t Registry::insert(Entry e) {
  const auto id = next_id_++;
  switch (e.what) {
    case What::global: global_.push_back(id); break;
    case What::by_type: by_type_[static_cast<std::uint16_t>(e.type)].push_back(id); break;
    case What::resource: {
      auto& idx = index_[static_cast<std::size_t>(e.kind)];
      auto it = idx.find(e.key);
      if (it == idx.end()) it = idx.emplace(e.key, std::vector<std::uint64_t>{}).first;
      it->second.push_back(id);
      break;
    }
    case What::state: state_.push_back(id); break;
    case What::reconcile: reconcile_.push_back(id); break;
  }
  entries_.emplace(id, std::move(e));
  return id;
}

std::uint64_t Registry::add_global(Client::EventHandler fn) {
  Entry e;
  e.what = What::global;
  e.on_event = std::move(fn);
  return insert(std::move(e));
}

std::uint64_t Registry::add_type(EventType type, Client::EventHandler fn) {
  Entry e;
  e.what = What::by_type;
  e.type = type;
  e.on_event = std::move(fn);
  return insert(std::move(e));
}

std::uint64_t Registry::add_resource(ResourceKind kind, std::string key, Client::EventHandler fn,
                                     Client::EndHandler on_end) {
  Entry e;
  e.what = What::resource;
  e.kind = kind;
  e.key = std::move(key);
  e.on_event = std::move(fn);
  e.on_end = std::move(on_end);
  return insert(std::move(e));
}

std::uint64_t Registry::add_state(Client::StateHandler fn) {
  Entry e;
  e.what = What::state;
  e.on_state = std::move(fn);
  return insert(std::move(e));
}

std::uint64_t Registry::add_reconcile(Client::ReconcileHandler fn) {
  Entry e;
  e.what = What::reconcile;
  e.on_reconcile = std::move(fn);
  return insert(std::move(e));
}

void Registry::unlink(std::uint64_t id, const Entry& e) {
  switch (e.what) {
    case What::global: erase_value(global_, id); break;
    case What::by_type: {
      auto it = by_type_.find(static_cast<std::uint16_t>(e.type));
      if (it != by_type_.end()) {
        erase_value(it->second, id);
        if (it->second.empty()) by_type_.erase(it);
      }
      break;
    }
    case What::resource: {
      auto& idx = index_[static_cast<std::size_t>(e.kind)];
      auto it = idx.find(e.key);
      if (it != idx.end()) {
        erase_value(it->second, id);
        if (it->second.empty()) idx.erase(it);
      }
      break;
    }
    case What::state: erase_value(state_, id); break;
    case What::reconcile: erase_value(reconcile_, id); break;
  }
}

void Registry::remove(std::uint64_t id) noexcept {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.dead) return;
  unlink(id, it->second);
  if (depth_ > 0) {
    it->second.dead = true;  // its handler may be running right now: erase later
    dead_.push_back(id);
  } else {
    entries_.erase(it);
  }
}

void Registry::flush() noexcept {
  if (depth_ > 0) return;
  for (auto id : dead_) entries_.erase(id);
  dead_.clear();
}

bool Registry::contains(std::uint64_t id) const noexcept {
  auto it = entries_.find(id);
  return it != entries_.end() && !it->second.dead;
}

void Registry::call(std::uint64_t id, const Event& e) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.dead || !it->second.on_event) return;
  it->second.on_event(e);
}

void Registry::dispatch(const Event& e) {
  {
    DepthGuard guard(depth_);
    if (!global_.empty()) {
      IdList ids(global_.begin(), global_.end());
      for (auto id : ids) call(id, e);
    }
    if (!by_type_.empty()) {
      auto it = by_type_.find(static_cast<std::uint16_t>(e.type()));
      if (it != by_type_.end()) {
        IdList ids(it->second.begin(), it->second.end());
        for (auto id : ids) call(id, e);
      }
    }
    const auto refs = e.resources();
    for (std::size_t i = 0; i < refs.size(); ++i) {
      const auto& ref = refs[i];
      // The same resource may appear twice (e.g. a bridge in two fields): deliver once.
      bool seen = false;
      for (std::size_t j = 0; j < i && !seen; ++j) seen = refs[j].kind == ref.kind && refs[j].id == ref.id;
      if (seen) continue;
      auto& idx = index_[static_cast<std::size_t>(ref.kind)];
      auto it = idx.find(ref.id);
      if (it == idx.end()) continue;
      IdList ids(it->second.begin(), it->second.end());
      for (auto id : ids) call(id, e);
    }
    for (const auto& ref : refs) {
      if (e.ends(ref)) end_resource(ref.kind, ref.id, EndReason::ended);
    }
  }
  flush();
}

void Registry::end_resource(ResourceKind kind, std::string_view key, EndReason reason) {
  auto& idx = index_[static_cast<std::size_t>(kind)];
  auto it = idx.find(key);
  if (it == idx.end()) return;
  IdList ids(it->second.begin(), it->second.end());
  idx.erase(it);
  {
    DepthGuard guard(depth_);
    for (auto id : ids) {
      auto e = entries_.find(id);
      if (e == entries_.end() || e->second.dead) continue;
      e->second.dead = true;
      dead_.push_back(id);
      if (e->second.on_end) e->second.on_end(reason);
    }
  }
  flush();
}

void Registry::close_all() {
  for (std::size_t k = 0; k < kResourceKinds; ++k) {
    std::vector<std::string> keys;
    keys.reserve(index_[k].size());
    for (const auto& kv : index_[k]) keys.push_back(kv.first);
    for (const auto& key : keys) end_resource(static_cast<ResourceKind>(k), key, EndReason::closed);
  }
  auto drop = [this](std::vector<std::uint64_t>& list) {
    auto ids = list;
    for (auto id : ids) remove(id);
  };
  drop(global_);
  std::vector<std::uint64_t> typed;
  for (const auto& kv : by_type_) typed.insert(typed.end(), kv.second.begin(), kv.second.end());
  for (auto id : typed) remove(id);
  flush();
}

void Registry::publish_state(ConnectionState s, boost::system::error_code ec) {
  {
    DepthGuard guard(depth_);
    IdList ids(state_.begin(), state_.end());
    for (auto id : ids) {
      auto it = entries_.find(id);
      if (it != entries_.end() && !it->second.dead && it->second.on_state) it->second.on_state(s, ec);
    }
  }
  flush();
}

void Registry::publish_reconcile(const ReconcileReport& r) {
  {
    DepthGuard guard(depth_);
    IdList ids(reconcile_.begin(), reconcile_.end());
    for (auto id : ids) {
      auto it = entries_.find(id);
      if (it != entries_.end() && !it->second.dead && it->second.on_reconcile) it->second.on_reconcile(r);
    }
  }
  flush();
}

std::vector<std::string> Registry::tracked(ResourceKind kind) const {
  std::vector<std::string> out;
  const auto& idx = index_[static_cast<std::size_t>(kind)];
  out.reserve(idx.size());
  for (const auto& kv : idx) out.push_back(kv.first);
  return out;
}

}  // namespace astmrf::ari::detail
