// The SIP text an application sends over drachtio: only its own parts. The
// server completes the rest (Via, tags, Call-ID, CSeq, Contact, Max-Forwards, and
// Content-Type for an SDP body). The layout is the one drachtio-srf sends (see the
// captured transcripts), so both clients put the same bytes on the wire.
#pragma once

#include <astmrf/sip/message.hpp>
#include <astmrf/sip/spec.hpp>

#include <string>

namespace astmrf::srf::drachtio {

/// A bare response to `request`: status line, Call-ID, cseq, from, to,
/// Content-Length, the application's headers, then the body.
std::string bare_response(const sip::Message& request, const sip::ResponseSpec& spec);
/// A request outside a dialog: request line, the application's headers, From/To
/// when given, Content-Length, body.
std::string bare_request(const sip::RequestSpec& spec);
/// An in-dialog request; drachtio replaces the placeholder with the remote target.
std::string in_dialog_request(const std::string& method, const sip::HeaderList& headers,
                              const std::string& content_type, const std::string& body);
/// A response made up here (connection lost, refused frame): a local failure.
sip::Message local_response(int status, const std::string& reason, const std::string& method);

}  // namespace astmrf::srf::drachtio
