#include "ivr_call.hpp"

#include <astmrf/ari/generated/operations.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <optional>

namespace astmrf::ivr {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

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

// What the event handlers share with the dialogue: they record and wake it.
struct CallState {
  explicit CallState(asio::any_io_executor executor) : wake(std::move(executor)) {}

  void notify() { wake.cancel(); }
  // Sleeps until notify() or `deadline`; the caller re-checks its condition.
  asio::awaitable<void> wait_until(Clock::time_point deadline) {
    wake.expires_at(deadline);
    co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }

  asio::steady_timer wake;
  std::string digits;
  Clock::time_point last_digit{};
  bool ended{false};        // either leg is gone
  bool caller_left{false};  // the caller's BYE (or its dialog failing) ended it
  std::string ended_by;     // what ended it, for the log
  bool playing{false};
  Clock::time_point playback_end{};
};

class Dialogue {
 public:
  Dialogue(std::shared_ptr<mrf::MediaServer> server, DialogueOptions options, std::shared_ptr<spdlog::logger> log,
           std::string call_id, asio::any_io_executor executor)
      : server_(std::move(server)),
        ari_(server_->ari()),
        options_(std::move(options)),
        log_(std::move(log)),
        call_id_(std::move(call_id)),
        state_(std::make_shared<CallState>(std::move(executor))) {}

  asio::awaitable<CallOutcome> run(srf::Request req, srf::Response res) {
    log_->info("event=invite call_id={} from=\"{}\" media_server={}", call_id_, req.header("From"), server_->app());
    try {
      mrf::ConnectCallerOptions connect;
      auto connected = co_await server_->async_connect_caller(req, res, connect, asio::use_awaitable);
      call_ = std::move(connected);
    } catch (const std::exception& e) {
      log_->warn("event=connect_failed call_id={} error=\"{}\"", call_id_, e.what());
      co_return CallOutcome{CallResult::not_connected, {}};
    }
    channel_ = call_.endpoint->channel_id();
    log_->info("event=connected call_id={} channel_id={} channel={} asterisk_call_id={}", call_id_, channel_,
               call_.endpoint->channel_name(), call_.endpoint->dialog()->call_id());
    watch_call();

    CallOutcome outcome;
    std::string error;
    try {
      outcome = co_await dialogue();
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) {
      // A request that failed because the caller left is a hang-up, not a failure; the
      // ARI error may come before the news of the BYE, so give that a moment.
      if (!state_->ended) co_await state_->wait_until(Clock::now() + std::chrono::milliseconds(500));
      outcome.result = state_->ended ? CallResult::caller_hangup : CallResult::failed;  // refined below
      if (!state_->ended)
        log_->warn("event=media_error call_id={} channel_id={} error=\"{}\"", call_id_, channel_, error);
    }
    outcome.digits = state_->digits;
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
  // Records what ends the call and every channel event (DTMF digits first of all).
  void watch_call() {
    std::weak_ptr<CallState> weak = state_;
    call_.endpoint->on_destroy([weak, log = log_, call_id = call_id_, channel = channel_](mrf::EndpointEnd end) {
      log->debug("event=endpoint_end call_id={} channel_id={} reason={}", call_id, channel, mrf::to_string(end));
      if (auto st = weak.lock(); st && !st->ended) {
        st->ended = true;
        st->ended_by = "endpoint_" + std::string(mrf::to_string(end));
        st->notify();
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
        st->notify();
      }
    });
    channel_events_ = ari_.subscribe(ari::ResourceKind::channel, channel_, [this](const ari::Event& event) {
      if (event.type() == ari::EventType::channel_dtmf_received) {
        const auto& json = event.json();
        const std::string digit(json.at("digit").as_string());
        const auto duration = json.if_contains("duration_ms");
        log_->info("event=ari type=ChannelDtmfReceived call_id={} channel_id={} digit={} duration_ms={}", call_id_,
                   channel_, digit, duration != nullptr ? duration->to_number<std::int64_t>() : 0);
        if (!collecting_) return;
        state_->digits += digit;
        state_->last_digit = Clock::now();
        state_->notify();
      } else {
        log_->info("event=ari type={} call_id={} channel_id={}", event.type_name(), call_id_, channel_);
      }
    });
    if (call_.dialog->destroyed() || call_.endpoint->destroyed()) {
      state_->ended = true;  // a leg ended between the answer and now
      state_->caller_left = call_.dialog->destroyed();
      state_->ended_by = "before_the_dialogue";
    }
  }

  bool digits_complete() const {
    const auto& digits = state_->digits;
    return (!digits.empty() && digits.back() == options_.terminator) || digits.size() >= options_.max_digits;
  }

  asio::awaitable<CallOutcome> dialogue() {
    collecting_ = true;
    const auto prompt = co_await start_playback(options_.prompt, "prompt");
    bool barged_in = false;
    bool timed_out = false;
    while (!state_->ended && !digits_complete()) {
      if (state_->playing && !state_->digits.empty() && !barged_in) {
        barged_in = true;  // the caller started typing: stop talking
        log_->info("event=media op=stop_prompt call_id={} channel_id={} playback_id={}", call_id_, channel_, prompt);
        co_await stop_playback(prompt);
      }
      Clock::time_point deadline;
      if (state_->playing)
        deadline = Clock::now() + options_.media_timeout;
      else if (state_->digits.empty())
        deadline = state_->playback_end + options_.first_digit_timeout;
      else
        deadline = state_->last_digit + options_.inter_digit_timeout;
      if (Clock::now() >= deadline) {
        timed_out = true;
        break;
      }
      co_await state_->wait_until(deadline);
    }
    collecting_ = false;
    if (state_->ended) co_return CallOutcome{CallResult::caller_hangup, {}};

    std::string digits = state_->digits;
    if (!digits.empty() && digits.back() == options_.terminator) digits.pop_back();
    state_->digits = digits;
    log_->info("event=digits call_id={} channel_id={} digits={} complete={}", call_id_, channel_,
               digits.empty() ? "-" : digits, timed_out ? "timeout" : "yes");

    std::vector<std::string> readback;
    if (!digits.empty()) readback = {"sound:you-entered", "digits:" + digits};
    readback.push_back("sound:goodbye");
    co_await wait_playback_done();  // a prompt still finishing (after a barge-in)
    co_await start_playback(readback, "readback");
    co_await wait_playback_done();
    if (state_->ended) co_return CallOutcome{CallResult::caller_hangup, {}};
    co_return CallOutcome{digits.empty() ? CallResult::no_input : CallResult::completed, {}};
  }

  // Subscribes to the playback's events first (they may precede the response), then plays.
  asio::awaitable<std::string> start_playback(const std::vector<std::string>& media, std::string_view what) {
    const auto id = ari_.make_id("pb");
    playback_events_ = ari_.subscribe(ari::ResourceKind::playback, id, [this, id](const ari::Event& event) {
      log_->info("event=ari type={} call_id={} channel_id={} playback_id={}", event.type_name(), call_id_, channel_,
                 id);
      if (event.type() == ari::EventType::playback_finished) {
        state_->playing = false;
        state_->playback_end = Clock::now();
        state_->notify();
      }
    });
    state_->playing = true;
    log_->info("event=media op=play what={} call_id={} channel_id={} playback_id={} media=\"{}\"", what, call_id_,
               channel_, id, fmt::join(media, ","));
    const ari::channels::PlayWithId play{.channel_id = channel_, .playback_id = id, .media = media};
    co_await ari_.channels().async_play_with_id(play, asio::use_awaitable);
    co_return id;
  }

  asio::awaitable<void> stop_playback(const std::string& id) {
    try {
      const ari::playbacks::Stop stop{.playback_id = id};
      co_await ari_.playbacks().async_stop(stop, asio::use_awaitable);
    } catch (const ari::NotFound&) {
      // It ended on its own meanwhile.
    }
  }

  asio::awaitable<void> wait_playback_done() {
    const auto deadline = Clock::now() + options_.media_timeout;
    while (state_->playing && !state_->ended && Clock::now() < deadline) co_await state_->wait_until(deadline);
  }

  std::shared_ptr<mrf::MediaServer> server_;
  ari::Client& ari_;
  DialogueOptions options_;
  std::shared_ptr<spdlog::logger> log_;
  std::string call_id_;
  std::string channel_;
  std::shared_ptr<CallState> state_;
  mrf::ConnectedCaller call_;
  ari::Subscription channel_events_;
  ari::Subscription playback_events_;
  bool collecting_{false};
};

}  // namespace

asio::awaitable<CallOutcome> run_call(std::shared_ptr<mrf::MediaServer> server, srf::Request req, srf::Response res,
                                      DialogueOptions options, std::shared_ptr<spdlog::logger> log) {
  auto executor = co_await asio::this_coro::executor;
  Dialogue dialogue(std::move(server), std::move(options), log, std::string(req.call_id()), executor);
  auto outcome = co_await dialogue.run(req, res);
  log->info("event=call_end call_id={} result={} digits={}", req.call_id(), to_string(outcome.result),
            outcome.digits.empty() ? "-" : outcome.digits);
  co_return outcome;
}

}  // namespace astmrf::ivr
