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
#include <string>
#include <string_view>

namespace astmrf::ari {

/// The kinds of resources events are dispatched by.
enum class ResourceKind : std::uint8_t { channel, bridge, playback, recording, endpoint, device_state };
/// The number of ResourceKind values.
inline constexpr std::size_t kResourceKinds = 6;
/// The kind's name, e.g. "channel".
std::string_view to_string(ResourceKind kind) noexcept;

/// A reference from an event to a resource: the event field and the resource id.
struct ResourceRef {
  /// The kind of resource.
  ResourceKind kind{};
  std::string_view field;  ///< "channel", "peer", "bridge", "playback", "recording"...
  std::string_view id;     ///< channel/bridge/playback id, recording name, "tech/resource", device name
};

namespace detail {
struct EventData;
}

/// One ARI event, parsed once and shared by every handler it is dispatched to; the typed
/// view of a known event type is as<T>().
class Event {
 public:
  Event() = default;

  /// Parses one WebSocket message. On malformed JSON or a message without a `type`, returns an
  /// empty Event and sets `ec` (errc::malformed_event).
  static Event parse(std::string_view text, boost::system::error_code& ec);

  /// False for an empty (default or failed to parse) event.
  explicit operator bool() const noexcept { return d_ != nullptr; }
  /// The event's type (EventType::unknown for types this library does not know).
  EventType type() const noexcept;
  /// The `type` field as sent (meaningful also for types unknown to this library).
  std::string_view type_name() const noexcept;
  /// The Stasis application the event was sent for.
  std::string_view application() const noexcept;
  /// The `timestamp` field as sent by Asterisk.
  std::string_view timestamp() const noexcept;
  /// The whole event object (built on first use: the text is only scanned when parsed).
  const boost::json::object& json() const noexcept;
  /// String members by JSON Pointer (RFC 6901, object members only, e.g. "/channel/caller/number"),
  /// read in one pass over the text without building the document; `out[i]` is "" when
  /// `pointers[i]` names no string. Cheaper than json() for a few fields of a large event.
  /// Throws std::invalid_argument for a pointer not starting with '/' or mismatched sizes.
  void find_strings(std::span<const std::string_view> pointers, std::span<std::string> out) const;
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
