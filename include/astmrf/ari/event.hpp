// Events of the ARI events WebSocket.
//
// An Event is decoded just enough to be dispatched: its type and the ids of the resources it is
// about (channel, bridge, playback, recording, endpoint, device). The typed view (StasisStart,
// PlaybackFinished... from generated/models.hpp) is decoded on demand with as<T>().
// Copies share the parsed document (cheap).
#pragma once

#include <astmrf/ari/generated/models.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/system/error_code.hpp>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

namespace astmrf::ari {

/// The kinds of resources events are dispatched by.
enum class ResourceKind : std::uint8_t { channel, bridge, playback, recording, endpoint, device_state };
inline constexpr std::size_t kResourceKinds = 6;
std::string_view to_string(ResourceKind kind) noexcept;

/// A reference from an event to a resource: the event field and the resource id.
struct ResourceRef {
  ResourceKind kind{};
  std::string_view field;  ///< "channel", "peer", "bridge", "playback", "recording"...
  std::string_view id;     ///< channel/bridge/playback id, recording name, "tech/resource", device name
};

namespace detail {
struct EventData;
}

class Event {
 public:
  Event() = default;

  /// Parses one WebSocket message. On malformed JSON or a message without a `type`, returns an
  /// empty Event and sets `ec` (errc::malformed_event).
  static Event parse(std::string_view text, boost::system::error_code& ec);

  explicit operator bool() const noexcept { return d_ != nullptr; }
  EventType type() const noexcept;
  /// The `type` field as sent (meaningful also for types unknown to this library).
  std::string_view type_name() const noexcept;
  std::string_view application() const noexcept;
  std::string_view timestamp() const noexcept;
  /// The whole event object.
  const boost::json::object& json() const noexcept;
  /// Resources the event refers to, in document order.
  std::span<const ResourceRef> resources() const noexcept;
  /// The id of the first resource of `kind` (e.g. channel id), empty if none.
  std::string_view id(ResourceKind kind) const noexcept;
  /// True if this event ends the life of the resource `ref` as seen by a Stasis app:
  /// StasisEnd / ChannelDestroyed (channel), BridgeDestroyed, PlaybackFinished,
  /// RecordingFinished / RecordingFailed.
  bool ends(const ResourceRef& ref) const noexcept;

  /// Typed view: decodes the event into a generated struct (e.g. ari::StasisStart).
  template <typename T>
  T as() const {
    T out{};
    decode(value(), out);
    return out;
  }

 private:
  const boost::json::value& value() const noexcept;
  std::shared_ptr<const detail::EventData> d_;
};

}  // namespace astmrf::ari
