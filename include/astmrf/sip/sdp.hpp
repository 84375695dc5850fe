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

enum class Direction : std::uint8_t { sendrecv, sendonly, recvonly, inactive };
std::string_view to_string(Direction d) noexcept;

struct Origin {  // o=
  std::string username{"-"};
  std::string session_id{"0"};
  std::string session_version{"0"};
  std::string net_type{"IN"};
  std::string addr_type{"IP4"};
  std::string address{"0.0.0.0"};
};

struct Connection {  // c=
  std::string net_type{"IN"};
  std::string addr_type{"IP4"};
  std::string address;  ///< may carry "/ttl[/count]" for multicast
};

struct Attribute {  // a=name[:value]
  std::string name;
  std::string value;
  bool has_value{false};
};

struct RtpMap {  // a=rtpmap:<pt> <encoding>/<clock>[/<channels>]
  int payload_type{-1};
  std::string encoding;
  std::uint32_t clock_rate{0};
  std::string channels;  ///< empty when absent
};

struct Media {  // m= section
  std::string type{"audio"};
  std::uint16_t port{0};
  std::uint16_t port_count{0};  ///< 0 when absent
  std::string proto{"RTP/AVP"};
  std::vector<std::string> formats;
  std::vector<std::pair<char, std::string>> lines;  ///< i=, b=, k= in order
  std::optional<Connection> connection;
  std::vector<Attribute> attributes;

  [[nodiscard]] const Attribute* attribute(std::string_view name) const;
  [[nodiscard]] std::optional<RtpMap> rtpmap(std::string_view payload_type) const;
  [[nodiscard]] std::optional<std::string_view> fmtp(std::string_view payload_type) const;
  /// Encoding name of a format: from a=rtpmap, else the RFC 3551 static table.
  [[nodiscard]] std::string encoding(std::string_view payload_type) const;
  /// Direction attribute of this section, or `session_default` if none.
  [[nodiscard]] Direction direction(Direction session_default = Direction::sendrecv) const;
  void set_direction(Direction d);
  /// Keeps only the formats whose encoding is listed (case-insensitive, e.g.
  /// "PCMU", "telephone-event"), dropping their rtpmap/fmtp lines too.
  /// Returns the number of formats left.
  std::size_t filter_codecs(const std::vector<std::string_view>& keep);
  /// Moves the listed encodings to the front, in that order; others follow.
  void reorder_codecs(const std::vector<std::string_view>& preferred);
};

struct SessionDescription {
  int version{0};
  Origin origin;
  std::string session_name{"-"};
  std::vector<std::pair<char, std::string>> lines;  ///< i= u= e= p= b= z= k= in order
  std::optional<Connection> connection;
  std::vector<std::string> times{"0 0"};  ///< t= values (r= lines kept in `lines`)
  std::vector<Attribute> attributes;
  std::vector<Media> media;

  [[nodiscard]] const Attribute* attribute(std::string_view name) const;
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
