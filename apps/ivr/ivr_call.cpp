#include "ivr_call.hpp"

#include <astmrf/util/log.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <optional>

namespace astmrf::ivr {

namespace asio = boost::asio;

std::string_view to_string(CallResult result) noexcept {
  switch (result) {
    case CallResult::completed: return "completed";
    case CallResult::no_input: return "no_input";
    case CallResult::caller_hangup: return "caller_hangup";
    case CallResult::media_ended: return "media_ended";
    case CallResult::not_connected: return "not_connected";
    case CallResult::failed: return "failed";
  }
  return "unknown";
}

namespace {

// What ends the call, as the leg handlers see it; the dialogue reads it after each verb.
struct CallState {
  bool ended{false};        // either leg is gone
  bool caller_left{false};  // the caller's BYE (or its dialog failing) ended it
  std::string ended_by;     // what ended it, for the log
};

class Dialogue {
 public:
  Dialogue(mrf::MediaServerPool& pool, DialogueOptions options, std::shared_ptr<spdlog::logger> log,
           std::string call_id, asio::any_io_executor executor)
      : pool_(pool),
        options_(std::move(options)),
        log_(std::move(log)),
        call_id_(std::move(call_id)),
        executor_(std::move(executor)),
        state_(std::make_shared<CallState>()) {}

  asio::awaitable<CallOutcome> run(srf::Request req, srf::Response res) {
    log_->info("event=invite call_id={} from={}", call_id_, astmrf::util::quote(req.header("From")));
    try {
      // The pool picks the server, and tries another one if the first fails before the answer.
      mrf::ConnectCallerOptions connect;
      auto connected = co_await pool_.async_connect_caller(req, res, connect, asio::use_awaitable);
      call_ = std::move(connected);
    } catch (const mrf::MediaServerUnavailable& e) {
      log_->warn("event=rejected call_id={} status=503 why=no_media_server error={}", call_id_,
                 astmrf::util::quote(e.what()));
      co_return CallOutcome{CallResult::not_connected, {}, true};
    } catch (const mrf::MediaServerOverloaded& e) {
      log_->warn("event=rejected call_id={} status=503 why=overloaded error={}", call_id_,
                 astmrf::util::quote(e.what()));
      co_return CallOutcome{CallResult::not_connected, {}, true};
    } catch (const std::exception& e) {
      log_->warn("event=connect_failed call_id={} error={}", call_id_, astmrf::util::quote(e.what()));
      co_return CallOutcome{CallResult::not_connected, {}};
    }
    channel_ = call_.endpoint->channel_id();
    const auto server = call_.endpoint->media_server();
    log_->info("event=connected call_id={} channel_id={} channel={} asterisk_call_id={} media_server={}", call_id_,
               channel_, call_.endpoint->channel_name(), call_.endpoint->dialog()->call_id(),
               server ? server->app() : std::string("-"));
    watch_call();

    CallOutcome outcome;
    try {
      outcome = co_await dialogue();
    } catch (const mrf::CallEnded&) {
      outcome.result = CallResult::caller_hangup;  // refined below
    } catch (const std::exception& e) {
      outcome.result = CallResult::failed;
      log_->warn("event=media_error call_id={} channel_id={} error={}", call_id_, channel_,
                 astmrf::util::quote(e.what()));
    }
    if (outcome.result == CallResult::caller_hangup && !state_->caller_left) outcome.result = CallResult::media_ended;
    if (outcome.result == CallResult::caller_hangup) {
      log_->info("event=caller_hangup call_id={} channel_id={}", call_id_, channel_);
    } else if (outcome.result == CallResult::media_ended) {
      log_->info("event=media_ended call_id={} channel_id={} by={}", call_id_, channel_, state_->ended_by);
    } else {
      log_->info("event=hangup call_id={} channel_id={}", call_id_, channel_);
      call_.dialog->destroy();
      call_.endpoint->destroy();
    }
    co_return outcome;
  }

 private:
  // Records what ends the call, and logs the endpoint's events (DTMF, playbacks) for the timeline.
  void watch_call() {
    std::weak_ptr<CallState> weak = state_;
    ended_ = call_.endpoint->on_destroyed(
        [weak, log = log_, call_id = call_id_, channel = channel_](const mrf::EndpointEnd& end) {
          log->debug("event=endpoint_end call_id={} channel_id={} reason={}", call_id, channel, mrf::to_string(end));
          if (auto st = weak.lock(); st && !st->ended) {
            st->ended = true;
            st->ended_by = "endpoint_" + std::string(mrf::to_string(end));
          }
        });
    call_.dialog->on_destroy([weak, log = log_, call_id = call_id_](const srf::DestroyedInfo& info) {
      log->info("event=sip_dialog_end call_id={} who={} reason={}", call_id, srf::to_string(info.who),
                sip::to_string(info.reason));
      auto st = weak.lock();
      if (!st) return;
      // Mrf ends the endpoint first on a caller's BYE: note who left even if it is known to be over.
      st->caller_left = st->caller_left || info.who != srf::DestroyedInfo::Who::local;
      if (!st->ended) {
        st->ended = true;
        st->ended_by = "caller_" + std::string(sip::to_string(info.reason));
      }
    });
    dtmf_ = call_.endpoint->on_dtmf([this](const mrf::DtmfEvent& dtmf) {
      log_->info("event=ari type=ChannelDtmfReceived call_id={} channel_id={} digit={} duration_ms={}", call_id_,
                 channel_, dtmf.digit, dtmf.duration.count());
      // A digit while the prompt plays: play_and_collect stops it (barge-in). Logged for the timeline.
      if (collecting_ && !playing_.empty()) {
        log_->info("event=media op=stop_prompt call_id={} channel_id={} playback_id={}", call_id_, channel_, playing_);
        collecting_ = false;
      }
    });
    playbacks_ = call_.endpoint->on_playback([this](const mrf::PlaybackEvent& playback) {
      log_->info("event=ari type={} call_id={} channel_id={} playback_id={}",
                 playback.finished ? "PlaybackFinished" : "PlaybackStarted", call_id_, channel_, playback.playback_id);
      playing_ = playback.finished ? std::string{} : playback.playback_id;
    });
    if (call_.dialog->destroyed() || call_.endpoint->destroyed()) {
      state_->ended = true;  // a leg ended between the answer and now
      state_->caller_left = call_.dialog->destroyed();
      state_->ended_by = "before_the_dialogue";
    }
  }

  asio::awaitable<CallOutcome> dialogue() {
    if (state_->ended) co_return CallOutcome{CallResult::caller_hangup, {}};
    mrf::CollectOptions collect;
    collect.max_digits = options_.max_digits;
    collect.terminators = std::string(1, options_.terminator);
    collect.first_digit_timeout = options_.first_digit_timeout;
    collect.inter_digit_timeout = options_.inter_digit_timeout;
    collect.overall_timeout = options_.media_timeout;
    collect.barge_in = true;  // the caller started typing: stop talking
    log_->info("event=media op=play what=prompt call_id={} channel_id={} media=\"{}\"", call_id_, channel_,
               fmt::join(options_.prompt, ","));
    collecting_ = true;
    const auto input = co_await call_.endpoint->async_play_and_collect(options_.prompt, collect, asio::use_awaitable);
    collecting_ = false;
    if (input.end == mrf::CollectEnd::call_ended) co_return CallOutcome{CallResult::caller_hangup, input.digits};
    const bool timed_out = input.end == mrf::CollectEnd::timeout;
    log_->info("event=digits call_id={} channel_id={} digits={} complete={}", call_id_, channel_,
               input.digits.empty() ? "-" : input.digits, timed_out ? "timeout" : "yes");

    std::vector<std::string> readback;
    if (!input.digits.empty()) readback = {"sound:you-entered", "digits:" + input.digits};
    readback.push_back("sound:goodbye");
    log_->info("event=media op=play what=readback call_id={} channel_id={} media=\"{}\"", call_id_, channel_,
               fmt::join(readback, ","));
    // Bounded like the prompt: cancelling the verb stops the playback on Asterisk.
    asio::cancellation_signal give_up;
    asio::steady_timer guard(executor_, options_.media_timeout);
    guard.async_wait([&give_up](boost::system::error_code ec) {
      if (!ec) give_up.emit(asio::cancellation_type::terminal);
    });
    // Named arguments: g++ 12 mishandles temporaries in a co_await expression (docs/ari.md).
    const mrf::PlayOptions play;
    auto bounded = asio::bind_cancellation_slot(give_up.slot(), asio::use_awaitable);
    const auto played = co_await call_.endpoint->async_play(readback, play, bounded);
    guard.cancel();
    if (played.end == mrf::PlayEnd::call_ended) co_return CallOutcome{CallResult::caller_hangup, input.digits};
    co_return CallOutcome{input.digits.empty() ? CallResult::no_input : CallResult::completed, input.digits};
  }

  mrf::MediaServerPool& pool_;
  DialogueOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::string call_id_;
  asio::any_io_executor executor_;
  std::string channel_;
  std::shared_ptr<CallState> state_;
  mrf::ConnectedCaller call_;
  mrf::Subscription ended_;
  mrf::Subscription dtmf_;
  mrf::Subscription playbacks_;
  bool collecting_{false};  // in play_and_collect, before the first digit
  std::string playing_;     // the playback in progress, if any
};

}  // namespace

asio::awaitable<CallOutcome> run_call(mrf::MediaServerPool& pool, srf::Request req, srf::Response res,
                                      DialogueOptions options, std::shared_ptr<spdlog::logger> log) {
  auto executor = co_await asio::this_coro::executor;
  Dialogue dialogue(pool, std::move(options), log, std::string(req.call_id()), executor);
  auto outcome = co_await dialogue.run(req, res);
  log->info("event=call_end call_id={} result={} digits={}", req.call_id(), to_string(outcome.result),
            outcome.digits.empty() ? "-" : outcome.digits);
  co_return outcome;
}

}  // namespace astmrf::ivr
