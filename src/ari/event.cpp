#include <astmrf/ari/error.hpp>
#include <astmrf/ari/event.hpp>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <array>
#include <cstddef>

namespace astmrf::ari {

namespace detail {

struct EventData {
  // User-provided: make_shared value-initializes, which would zero the 6 KB arena first.
  EventData() {}  // NOLINT(modernize-use-equals-default)
  static constexpr std::size_t kMaxRefs = 8;
  static constexpr std::size_t kArena = 6 * 1024;  // holds the DOM of a typical event (0.3-2.2 KB text)
  // One allocation per event: the arena for the parsed document lives in the same block, and the
  // monotonic resource makes freeing the document trivial.
  alignas(std::max_align_t) unsigned char arena[kArena];
  boost::json::monotonic_resource resource{arena, kArena};
  // On the arena from the start: assigning a parsed value to a value on another resource would
  // deep-copy the whole document to the heap.
  boost::json::value doc = boost::json::value(boost::json::storage_ptr(&resource));
  EventType type = EventType::Unknown;
  std::string_view type_name;
  std::string_view application;
  std::string_view timestamp;
  std::array<ResourceRef, kMaxRefs> refs{};
  std::size_t nrefs = 0;
  std::string endpoint_key;  // "tech/resource": the only id not present verbatim in the document
};

}  // namespace detail

namespace {

std::string_view string_field(const boost::json::object& o, std::string_view key) noexcept {
  if (const auto* v = o.if_contains(key); v != nullptr && v->is_string()) {
    const auto& s = v->get_string();
    return {s.data(), s.size()};
  }
  return {};
}

bool ends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Finds the resources an event refers to from its top-level fields.
void collect_refs(detail::EventData& d, const boost::json::object& o) {
  for (const auto& kv : o) {
    const auto* obj = kv.value().if_object();
    if (obj == nullptr || d.nrefs == detail::EventData::kMaxRefs) continue;
    const std::string_view field = kv.key();
    ResourceRef ref{};
    ref.field = field;
    if (field == "playback") {
      ref.kind = ResourceKind::playback;
      ref.id = string_field(*obj, "id");
    } else if (field == "recording") {
      ref.kind = ResourceKind::recording;
      ref.id = string_field(*obj, "name");
    } else if (field == "device_state") {
      ref.kind = ResourceKind::device_state;
      ref.id = string_field(*obj, "name");
    } else if (field == "endpoint") {
      if (!d.endpoint_key.empty()) continue;
      d.endpoint_key.append(string_field(*obj, "technology"));
      d.endpoint_key.push_back('/');
      d.endpoint_key.append(string_field(*obj, "resource"));
      ref.kind = ResourceKind::endpoint;
      ref.id = d.endpoint_key;
    } else if (field == "bridge" || ends_with(field, "_bridge") || field == "bridge_from") {
      ref.kind = ResourceKind::bridge;
      ref.id = string_field(*obj, "id");
    } else if (obj->contains("caller") && obj->contains("id")) {
      ref.kind = ResourceKind::channel;  // channel, peer, caller, forwarded, replace_channel, transferee...
      ref.id = string_field(*obj, "id");
    } else {
      continue;
    }
    if (!ref.id.empty()) d.refs[d.nrefs++] = ref;
  }
}

}  // namespace

std::string_view to_string(ResourceKind kind) noexcept {
  switch (kind) {
    case ResourceKind::channel: return "channel";
    case ResourceKind::bridge: return "bridge";
    case ResourceKind::playback: return "playback";
    case ResourceKind::recording: return "recording";
    case ResourceKind::endpoint: return "endpoint";
    case ResourceKind::device_state: return "device_state";
  }
  return "?";
}

Event Event::parse(std::string_view text, boost::system::error_code& ec) {
  ec.clear();
  auto data = std::make_shared<detail::EventData>();
  data->doc = boost::json::parse(text, ec, data->doc.storage());
  if (ec) return {};
  const auto* o = data->doc.if_object();
  if (o == nullptr) {
    ec = errc::malformed_event;
    return {};
  }
  data->type_name = string_field(*o, "type");
  if (data->type_name.empty()) {
    ec = errc::malformed_event;
    return {};
  }
  data->type = event_type_from_string(data->type_name);
  data->application = string_field(*o, "application");
  data->timestamp = string_field(*o, "timestamp");
  collect_refs(*data, *o);
  Event e;
  e.d_ = std::move(data);
  return e;
}

EventType Event::type() const noexcept { return d_ ? d_->type : EventType::Unknown; }
std::string_view Event::type_name() const noexcept { return d_ ? d_->type_name : std::string_view{}; }
std::string_view Event::application() const noexcept { return d_ ? d_->application : std::string_view{}; }
std::string_view Event::timestamp() const noexcept { return d_ ? d_->timestamp : std::string_view{}; }

const boost::json::value& Event::value() const noexcept {
  static const boost::json::value null_value;
  return d_ ? d_->doc : null_value;
}

const boost::json::object& Event::json() const noexcept {
  static const boost::json::object empty;
  if (!d_) return empty;
  return d_->doc.get_object();
}

std::span<const ResourceRef> Event::resources() const noexcept {
  if (!d_) return {};
  return {d_->refs.data(), d_->nrefs};
}

std::string_view Event::id(ResourceKind kind) const noexcept {
  for (const auto& r : resources()) {
    if (r.kind == kind) return r.id;
  }
  return {};
}

bool Event::ends(const ResourceRef& ref) const noexcept {
  switch (ref.kind) {
    case ResourceKind::channel:
      return ref.field == "channel" && (type() == EventType::StasisEnd || type() == EventType::ChannelDestroyed);
    case ResourceKind::bridge: return ref.field == "bridge" && type() == EventType::BridgeDestroyed;
    case ResourceKind::playback: return type() == EventType::PlaybackFinished;
    case ResourceKind::recording:
      return type() == EventType::RecordingFinished || type() == EventType::RecordingFailed;
    case ResourceKind::endpoint:
    case ResourceKind::device_state: return false;
  }
  return false;
}

}  // namespace astmrf::ari
