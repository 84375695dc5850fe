// Endpoint verbs that are one ARI request on the channel: mute, hold, music on hold,
// silence, channel variables (TALK_DETECT included), DTMF toward the caller.
// Each completes once, deferred; cancelling one completes it with operation_aborted at
// once (the request already sent may still take effect on Asterisk).
#include "endpoint_errors.hpp"

#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>

#include <stdexcept>
#include <string_view>

namespace astmrf::mrf {

namespace {

constexpr std::string_view kDtmfDigits = "0123456789*#ABCD,";

}  // namespace

std::string Endpoint::direction_name(MediaDirection direction) {
  switch (direction) {
    case MediaDirection::in: return "in";
    case MediaDirection::out: return "out";
    case MediaDirection::both: return "both";
  }
  return "both";
}

void Endpoint::start_verb(Verb verb, std::string a, std::string b, VoidHandler handler) {
  // Stored-recording verbs work after the call ended: endpoint_record.cpp.
  if (verb == Verb::stop_recording) {
    stop_recording(std::move(a), std::move(handler));
    return;
  }
  if (verb == Verb::delete_recording) {
    delete_recording(std::move(a), std::move(handler));
    return;
  }
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  std::exception_ptr error;
  ari::Client* client = internal::call_client(end_, server_, error);
  if (!client) {
    (*once)(error);
    return;
  }
  ari::Request request;
  switch (verb) {
    case Verb::mute: request = ari::make_request(ari::channels::Mute{.channel_id = channel_id_, .direction = a}); break;
    case Verb::unmute:
      request = ari::make_request(ari::channels::Unmute{.channel_id = channel_id_, .direction = a});
      break;
    case Verb::hold: request = ari::make_request(ari::channels::Hold{.channel_id = channel_id_}); break;
    case Verb::unhold: request = ari::make_request(ari::channels::Unhold{.channel_id = channel_id_}); break;
    case Verb::start_moh:
      request = ari::make_request(ari::channels::StartMoh{.channel_id = channel_id_, .moh_class = a});
      break;
    case Verb::stop_moh: request = ari::make_request(ari::channels::StopMoh{.channel_id = channel_id_}); break;
    case Verb::start_silence:
      request = ari::make_request(ari::channels::StartSilence{.channel_id = channel_id_});
      break;
    case Verb::stop_silence: request = ari::make_request(ari::channels::StopSilence{.channel_id = channel_id_}); break;
    case Verb::set_variable:
      if (a.empty()) {
        (*once)(std::make_exception_ptr(std::invalid_argument("set_variable: empty variable name")));
        return;
      }
      request = ari::make_request(ari::channels::SetChannelVar{.channel_id = channel_id_, .variable = a, .value = b});
      break;
    case Verb::stop_recording:
    case Verb::delete_recording: break;  // handled above
  }
  once->on_cancel();
  std::weak_ptr<Endpoint> weak = weak_from_this();
  client->async_call<void>(std::move(request), [once, weak](std::exception_ptr e) {
    auto self = weak.lock();
    (*once)(internal::channel_error(std::move(e), self ? self->end_reason() : std::nullopt, true));
  });
}

void Endpoint::start_get_variable(std::string name, BytesHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (name.empty()) {
    (*once)(std::make_exception_ptr(std::invalid_argument("get_variable: empty variable name")), std::string{});
    return;
  }
  std::exception_ptr error;
  ari::Client* client = internal::call_client(end_, server_, error);
  if (!client) {
    (*once)(error, std::string{});
    return;
  }
  once->on_cancel();
  std::weak_ptr<Endpoint> weak = weak_from_this();
  const ari::channels::GetChannelVar params{.channel_id = channel_id_, .variable = std::move(name)};
  // An unset variable is a 404 too ("Provided variable was not found"): only one about
  // the channel means the call ended.
  client->async_call<ari::Variable>(
      ari::make_request(params), [once, weak](std::exception_ptr e, ari::Variable variable) {
        auto self = weak.lock();
        (*once)(internal::channel_error(std::move(e), self ? self->end_reason() : std::nullopt, false),
                std::move(variable.value));
      });
}

void Endpoint::start_send_dtmf(std::string digits, DtmfOptions options, VoidHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (digits.empty() || digits.find_first_not_of(kDtmfDigits) != std::string::npos) {
    (*once)(std::make_exception_ptr(std::invalid_argument("send_dtmf: digits must be 0-9 * # A-D or ','")));
    return;
  }
  if (options.between.count() < 0 || options.duration.count() <= 0) {
    (*once)(std::make_exception_ptr(std::invalid_argument("send_dtmf: negative gap or non-positive duration")));
    return;
  }
  std::exception_ptr error;
  ari::Client* client = internal::call_client(end_, server_, error);
  if (!client) {
    (*once)(error);
    return;
  }
  once->on_cancel();
  std::weak_ptr<Endpoint> weak = weak_from_this();
  // Asterisk queues the digits on the channel and answers at once: this completes when they
  // are accepted, not when the last one has been sent.
  const ari::channels::SendDTMF params{.channel_id = channel_id_,
                                       .dtmf = std::move(digits),
                                       .between = options.between.count(),
                                       .duration = options.duration.count()};
  client->async_call<void>(ari::make_request(params), [once, weak](std::exception_ptr e) {
    auto self = weak.lock();
    (*once)(internal::channel_error(std::move(e), self ? self->end_reason() : std::nullopt, true));
  });
}

}  // namespace astmrf::mrf
