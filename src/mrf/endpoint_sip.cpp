// Endpoint mid-call SIP: re-offers toward Asterisk (fsmrf's modify), and the answers a
// standalone endpoint (no caller behind it) gives Asterisk's own re-offers.
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/sip/sdp.hpp>

#include <optional>
#include <string>

namespace astmrf::mrf {

namespace {

namespace sdp = sip::sdp;

bool sends(sdp::Direction d) { return d == sdp::Direction::sendrecv || d == sdp::Direction::sendonly; }
bool receives(sdp::Direction d) { return d == sdp::Direction::sendrecv || d == sdp::Direction::recvonly; }

// RFC 3264 6.1: we send only what the offerer will receive and receive only what it sends,
// within what our own session allows (`ours`).
sdp::Direction answer_direction(sdp::Direction offered, sdp::Direction ours) {
  const bool send = sends(ours) && receives(offered);
  const bool receive = receives(ours) && sends(offered);
  if (send && receive) return sdp::Direction::sendrecv;
  if (send) return sdp::Direction::sendonly;
  if (receive) return sdp::Direction::recvonly;
  return sdp::Direction::inactive;
}

}  // namespace

std::optional<std::string> Endpoint::answer_offer(const std::string& base_text, const std::string& current_text,
                                                  std::string_view offer_text) {
  auto offer = sdp::parse(offer_text);
  auto answer = sdp::parse(base_text);
  if (!offer || !answer || offer->media.size() != answer->media.size()) return std::nullopt;
  for (std::size_t i = 0; i < offer->media.size(); ++i) {
    const auto& offered = offer->media[i];
    auto& ours = answer->media[i];
    if (offered.type != ours.type) return std::nullopt;
    if (offered.port == 0) {  // a stream the offerer disables stays disabled (RFC 3264 8.2)
      ours.port = 0;
      continue;
    }
    std::vector<std::string> encodings;
    for (const auto& format : offered.formats) encodings.push_back(offered.encoding(format));
    std::vector<std::string_view> keep(encodings.begin(), encodings.end());
    if (ours.filter_codecs(keep) == 0) return std::nullopt;
    ours.set_direction(answer_direction(offered.direction(offer->direction()), ours.direction(answer->direction())));
  }
  // The same session as our last SDP; a new version only when the answer differs from it
  // (RFC 3264 8).
  if (auto current = sdp::parse(current_text)) {
    answer->origin = current->origin;
    if (answer->to_string() != current->to_string()) {
      try {
        answer->origin.session_version = std::to_string(std::stoull(current->origin.session_version) + 1);
      } catch (const std::exception&) {
        answer->origin.session_version = "1";
      }
    }
  }
  return answer->to_string();
}

void Endpoint::answer_offers_locally() {
  // Asterisk re-offers a standalone endpoint (e.g. after a bridge change): mirror its
  // direction within the session the application set up, instead of repeating our SDP.
  std::weak_ptr<srf::Dialog> weak = dialog_;
  auto answer = [weak, base = dialog_->local_sdp()](srf::Request req, srf::Response res) {
    auto dialog = weak.lock();
    if (!dialog) {
      res.send(481);
      return;
    }
    if (req.body().empty()) {  // offerless: our current SDP is the offer (a session refresh)
      if (req.method() == "INVITE") {
        res.send(200, srf::ResponseOptions{{}, {}, "application/sdp", dialog->local_sdp()});
      } else {
        res.send(200);
      }
      return;
    }
    if (auto sdp = answer_offer(base, dialog->local_sdp(), req.body())) {
      res.send(200, srf::ResponseOptions{{}, {}, "application/sdp", std::move(*sdp)});
    } else {
      res.send(488);
    }
  };
  dialog_->on_modify(answer);
  dialog_->on("UPDATE", answer);
}

void Endpoint::start_modify(std::string sdp, BytesHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (auto reason = end_.value()) {
    (*once)(std::make_exception_ptr(CallEnded(*reason)), std::string{});
    return;
  }
  // The endpoint ending mid-way completes it at once (Asterisk may never answer a
  // re-INVITE on a dialog it is tearing down).
  struct Op {
    std::shared_ptr<astmrf::detail::Once<void(std::exception_ptr, std::string)>> once;
    Subscription ended;
  };
  auto op = std::make_shared<Op>();
  op->once = once;
  std::weak_ptr<astmrf::detail::Once<void(std::exception_ptr, std::string)>> weak_once = once;
  op->ended = destroyed_.connect([weak_once](const EndpointEnd& reason) {
    if (auto o = weak_once.lock()) (*o)(std::make_exception_ptr(CallEnded(reason)), std::string{});
  });
  once->on_cancel();  // the re-INVITE runs its course; its 2xx still updates the dialog's SDPs
  dialog_->async_modify(std::move(sdp), [op](std::exception_ptr error, std::string answer) {
    op->ended.reset();
    (*op->once)(error, std::move(answer));
  });
}

}  // namespace astmrf::mrf
