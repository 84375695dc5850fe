// SDP (RFC 4566) with the offer/answer helpers (RFC 3264) a media
// application needs. Owns its strings: SDP is edited far more than it is
// parsed, and bodies are small.
#pragma once

#include <astmrf/sip/result.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::sip::sdp {

/// The media direction attributes (RFC 3264 5.1).
enum class Direction : std::uint8_t { sendrecv, sendonly, recvonly, inactive };
/// The attribute's name, e.g. "sendonly".
std::string_view to_string(Direction d) noexcept;

/// The origin line, `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <address>`.
struct Origin {  // o=
  /// `-` when there is none.
  std::string username{"-"};
  /// Numeric session id.
  std::string session_id{"0"};
  /// Incremented by each new version of the session (RFC 3264 8).
  std::string session_version{"0"};
  /// Network type, "IN".
  std::string net_type{"IN"};
  /// "IP4" or "IP6".
  std::string addr_type{"IP4"};
  /// The originator's address.
  std::string address{"0.0.0.0"};
};

/// A connection line, `c=<nettype> <addrtype> <address>`.
struct Connection {  // c=
  /// Network type, "IN".
  std::string net_type{"IN"};
  /// "IP4" or "IP6".
  std::string addr_type{"IP4"};
  std::string address;  ///< may carry "/ttl[/count]" for multicast
};

/// An attribute line, `a=<name>` or `a=<name>:<value>`.
struct Attribute {  // a=name[:value]
  /// The part before ':'.
  std::string name;
  /// The part after ':' (empty for a property attribute).
  std::string value;
  /// Whether there was a ':' (`a=x:` has an empty value).
  bool has_value{false};
};

/// A parsed `a=rtpmap:<pt> <encoding>/<clock>[/<channels>]`.
struct RtpMap {  // a=rtpmap:<pt> <encoding>/<clock>[/<channels>]
  /// The payload type, -1 when unknown.
  int payload_type{-1};
  /// Encoding name as written, e.g. "PCMU", "telephone-event".
  std::string encoding;
  /// Clock rate in Hz.
  std::uint32_t clock_rate{0};
  std::string channels;  ///< empty when absent
};

/// A media section: the `m=` line and what follows it up to the next one.
struct Media {  // m= section
  /// "audio", "video"...
  std::string type{"audio"};
  /// Transport port (0: the stream is rejected or disabled).
  std::uint16_t port{0};
  std::uint16_t port_count{0};  ///< 0 when absent
  /// "RTP/AVP", "RTP/SAVP"...
  std::string proto{"RTP/AVP"};
  /// Formats (RTP payload types for RTP profiles), in preference order.
  std::vector<std::string> formats;
  std::vector<std::pair<char, std::string>> lines;  ///< i=, b=, k= in order
  /// Its own `c=` line, if any (else the session's applies).
  std::optional<Connection> connection;
  /// Its `a=` lines, in order.
  std::vector<Attribute> attributes;

  /// The first attribute named `name`, or null.
  [[nodiscard]] const Attribute* attribute(std::string_view name) const;
  /// The rtpmap of `payload_type`, if the section has one.
  [[nodiscard]] std::optional<RtpMap> rtpmap(std::string_view payload_type) const;
  /// The fmtp parameters of `payload_type`, if any.
  [[nodiscard]] std::optional<std::string_view> fmtp(std::string_view payload_type) const;
  /// Encoding name of a format: from a=rtpmap, else the RFC 3551 static table.
  [[nodiscard]] std::string encoding(std::string_view payload_type) const;
  /// Direction attribute of this section, or `session_default` if none.
  [[nodiscard]] Direction direction(Direction session_default = Direction::sendrecv) const;
  /// Replaces the section's direction attribute (sendrecv, sendonly, recvonly, inactive).
  void set_direction(Direction d);
  /// Keeps only the formats whose encoding is listed (case-insensitive, e.g.
  /// "PCMU", "telephone-event"), dropping their rtpmap/fmtp lines too.
  /// Returns the number of formats left.
  std::size_t filter_codecs(const std::vector<std::string_view>& keep);
  /// Moves the listed encodings to the front, in that order; others follow.
  void reorder_codecs(const std::vector<std::string_view>& preferred);
};

/// A whole SDP body (RFC 4566): session-level lines and media sections.
struct SessionDescription {
  /// `v=`, always 0.
  int version{0};
  /// `o=`.
  Origin origin;
  /// `s=`.
  std::string session_name{"-"};
  std::vector<std::pair<char, std::string>> lines;  ///< i= u= e= p= b= z= k= in order
  /// Session-level `c=`, if any.
  std::optional<Connection> connection;
  std::vector<std::string> times{"0 0"};  ///< t= values (r= lines kept in `lines`)
  /// Session-level `a=` lines, in order.
  std::vector<Attribute> attributes;
  /// The media sections, in order.
  std::vector<Media> media;

  /// The first session-level attribute named `name`, or null.
  [[nodiscard]] const Attribute* attribute(std::string_view name) const;
  /// The session-level direction attribute (sendrecv when there is none).
  [[nodiscard]] Direction direction() const;
  /// Connection address that applies to media section `i`.
  [[nodiscard]] const Connection* connection_for(std::size_t i) const;
  /// Canonical text with CRLF line ends.
  [[nodiscard]] std::string to_string() const;
};

/// Parses SDP; errors carry the 1-based line and the offending field.
Result<SessionDescription> parse(std::string_view text);

/// Builds an offer with every media stream inactive (RFC 3264 5.1), e.g. to
/// put a call leg on hold or to reserve a port before the real offer:
/// one audio section on `address`:`port` with PCMU, PCMA and telephone-event.
SessionDescription make_inactive_offer(std::string_view address, std::uint16_t port = 9);
/// The same session with the connection address replaced by `address`, the
/// version bumped and every media section set to inactive.
SessionDescription make_inactive_offer(const SessionDescription& base, std::string_view address);

}  // namespace astmrf::sip::sdp
