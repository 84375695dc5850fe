// What an application hands to the engine to send: the parts of a response or a
// request that are its own. The engine adds everything RFC 3261 makes its job
// (Via, tags, Call-ID, CSeq, Max-Forwards, Contact, Content-Length).
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace astmrf::sip {

/// Extra headers, as (name, value) pairs, in order.
using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// A response the application sends (IncomingRequest::respond).
struct ResponseSpec {
  /// The status code.
  int status{200};
  std::string reason;        ///< empty: the default phrase for the status
  HeaderList headers;        ///< extra headers; a Contact here replaces the engine's
  std::string content_type;  ///< e.g. "application/sdp"; empty when no body
  /// The body.
  std::string body;
};

/// A request the application sends (Engine::send_request, Dialog::request).
struct RequestSpec {
  /// The method.
  std::string method{"INVITE"};
  std::string uri;           ///< Request-URI, e.g. "sip:drachtio-x@127.0.0.1:5060"
  std::string from;          ///< From URI; default: sip:astmrf@<local address>
  std::string from_display;  ///< optional display name
  std::string to;            ///< To URI; default: the Request-URI
  std::string call_id;       ///< default: a fresh random one
  std::string from_tag;      ///< default: a fresh random one (set both to resend after a 401/407)
  std::uint32_t cseq{0};     ///< default: 1
  /// Extra headers.
  HeaderList headers;
  /// Content-Type of the body (none when empty).
  std::string content_type;
  /// The body.
  std::string body;
  /// Send here instead of the Request-URI's host:port;transport (an outbound proxy).
  std::string destination;  ///< "udp:1.2.3.4:5060" / "tcp:..." / "" (from the URI)
};

}  // namespace astmrf::sip
