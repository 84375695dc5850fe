// Endpoint playback verbs: play, play and collect, say, and the Playback controls.
//
// Each verb runs one coroutine on the endpoint's executor, fed by its event handlers
// through a VerbState: the handlers set flags and poke `wake`; the coroutine reads the
// flags before every wait (so a poke while it was busy is never lost). Decisions:
// - a playback is "stopped" when we asked Asterisk to stop it (stop_on_dtmf, Playback::async_stop,
//   cancellation): Asterisk reports a stopped playback as state "done", like a finished one;
// - an unknown sound: Asterisk accepts the request and reports PlaybackFinished "failed" →
//   PlayEnd::failed (while the channel exists); a "failed" playback whose channel is gone is
//   PlayEnd::call_ended (a hangup mid-playback also reports "failed");
// - the endpoint ending completes a verb at once (call_ended), without waiting for Asterisk.
#include "endpoint_errors.hpp"
#include "play_logic.hpp"

#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/mrf.hpp>
#include <astmrf/util/random.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <stdexcept>
#include <utility>

namespace astmrf::mrf {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace detail {
struct PlayAccess {
  static void emit_playback(Endpoint& endpoint, const PlaybackEvent& event) { endpoint.playback_.emit(event); }
  static std::map<std::string, std::function<void()>>& stop_hooks(Endpoint& endpoint) { return endpoint.stop_hooks_; }
  static const asio::any_io_executor& executor(Endpoint& endpoint) { return endpoint.executor_; }
};
}  // namespace detail

namespace {

using Access = mrf::detail::PlayAccess;

std::exception_ptr call_ended_error(const std::shared_ptr<Endpoint>& endpoint) {
  return std::make_exception_ptr(CallEnded(endpoint ? endpoint->end_reason() : std::nullopt));
}

// An ARI failure of a verb: the endpoint ended meanwhile, or Asterisk's 404 / "not in
// Stasis" about the channel (internal::channel_error), is CallEnded, never a generic ari error.
std::exception_ptr verb_error(std::exception_ptr error, const std::weak_ptr<Endpoint>& weak) {
  auto endpoint = weak.lock();
  if (!endpoint || endpoint->destroyed()) return call_ended_error(endpoint);
  return internal::channel_error(std::move(error), endpoint->end_reason(), false);
}

bool is_call_ended(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const CallEnded&) {
    return true;
  } catch (...) {
    return false;
  }
}

// What a verb's coroutine is told by its handlers; `wake` interrupts its waits.
struct VerbState {
  explicit VerbState(const asio::any_io_executor& executor) : wake(executor) {}
  asio::steady_timer wake;
  std::weak_ptr<Endpoint> endpoint;
  bool cancelled{false};
  bool call_ended{false};
  std::deque<std::pair<char, Clock::time_point>> digits;  // DTMF not yet consumed
  // The current playback.
  std::string playback_id;
  bool playing{false};     // requested, not finished
  bool stop_asked{false};  // someone asked Asterisk to stop it
  std::string final_state;
  Clock::time_point finished_at{};
  ari::Subscription playback_events;
  // The verb's subscriptions on the endpoint, dropped with the state.
  Subscription on_dtmf;
  Subscription on_destroyed;
  // Completes the verb at once when the endpoint ends.
  std::function<void()> complete_call_ended;

  void poke() { wake.cancel(); }
  [[nodiscard]] bool over() const { return cancelled || call_ended; }

  ~VerbState() { forget_stop_hook(); }
  void forget_stop_hook() {
    if (playback_id.empty()) return;
    if (auto e = endpoint.lock()) {
      auto& hooks = Access::stop_hooks(*e);
      if (auto it = hooks.find(playback_id); it != hooks.end()) hooks.erase(it);
    }
  }
};

// Subscribes the state to the endpoint's end (and to its DTMF when `dtmf`), before any I/O.
void listen(const std::shared_ptr<VerbState>& state, Endpoint& endpoint, bool dtmf) {
  std::weak_ptr<VerbState> weak = state;
  state->endpoint = endpoint.weak_from_this();
  state->on_destroyed = endpoint.on_destroyed([weak](const EndpointEnd&) {
    auto s = weak.lock();
    if (!s) return;
    s->call_ended = true;
    if (s->complete_call_ended) s->complete_call_ended();
    s->poke();
  });
  if (dtmf) {
    state->on_dtmf = endpoint.on_dtmf([weak](const DtmfEvent& event) {
      auto s = weak.lock();
      if (!s) return;
      s->digits.emplace_back(event.digit, Clock::now());
      s->poke();
    });
  }
}

asio::awaitable<void> wait_for_news(VerbState& state, std::optional<Clock::time_point> deadline) {
  state.wake.expires_at(deadline.value_or(Clock::time_point::max()));
  co_await state.wake.async_wait(asio::as_tuple(asio::use_awaitable));
}

// The endpoint and its ARI client, or CallEnded.
std::pair<std::shared_ptr<Endpoint>, ari::Client*> usable(const VerbState& state) {
  auto endpoint = state.endpoint.lock();
  ari::Client* client = endpoint && !endpoint->destroyed() ? endpoint->ari() : nullptr;
  if (!client) std::rethrow_exception(call_ended_error(endpoint));
  return {std::move(endpoint), client};
}

// Subscribes to playback `id` (its events go to the endpoint's playback signal too), then
// asks Asterisk to play `media` on the channel.
asio::awaitable<void> start_playback(std::shared_ptr<VerbState> state, std::string id, std::vector<std::string> media,
                                     std::string language, std::chrono::milliseconds offset,
                                     std::chrono::milliseconds skip) {
  auto [endpoint, client] = usable(*state);
  state->forget_stop_hook();
  state->playback_id = id;
  state->playing = true;
  state->stop_asked = false;
  state->final_state.clear();
  std::weak_ptr<VerbState> weak = state;
  std::weak_ptr<Endpoint> weak_endpoint = endpoint;
  Access::stop_hooks(*endpoint)[id] = [weak, id] {
    if (auto s = weak.lock(); s && s->playback_id == id) s->stop_asked = true;
  };
  auto finish = [weak, id](std::string final_state) {
    auto s = weak.lock();
    if (!s || s->playback_id != id || !s->playing) return;
    s->playing = false;
    s->final_state = std::move(final_state);
    s->finished_at = Clock::now();
    s->poke();
  };
  state->playback_events = client->subscribe(
      ari::ResourceKind::playback, id,
      [weak_endpoint, finish](const ari::Event& event) {
        const bool started = event.type() == ari::EventType::playback_started;
        if (!started && event.type() != ari::EventType::playback_finished) return;
        const auto playback =
            started ? event.as<ari::PlaybackStarted>().playback : event.as<ari::PlaybackFinished>().playback;
        if (auto e = weak_endpoint.lock(); e && !e->destroyed()) {
          Access::emit_playback(*e, PlaybackEvent{!started, playback.id, playback.media_uri, playback.state});
        }
        if (!started) finish(playback.state);
      },
      [finish](ari::EndReason reason) {
        if (reason != ari::EndReason::ended) finish("vanished");  // the ARI connection lost it
      });
  const ari::channels::PlayWithId params{
      .channel_id = endpoint->channel_id(),
      .playback_id = id,
      .media = std::move(media),
      .lang = std::move(language),
      .offsetms = offset.count() > 0 ? std::optional<std::int64_t>(offset.count()) : std::nullopt,
      .skipms = skip.count() > 0 ? std::optional<std::int64_t>(skip.count()) : std::nullopt,
  };
  endpoint.reset();  // the verb must not keep the endpoint alive
  try {
    co_await client->channels().async_play_with_id(params, asio::use_awaitable);
  } catch (...) {
    state->playing = false;
    state->playback_events.reset();
    std::rethrow_exception(verb_error(std::current_exception(), state->endpoint));
  }
}

// Asks Asterisk to stop the current playback (once); its PlaybackFinished follows. A stop
// that fails (it just finished; number:/digits: cannot be stopped: 500) is not an error.
asio::awaitable<void> stop_playback(std::shared_ptr<VerbState> state) {
  if (!state->playing || state->stop_asked) co_return;
  state->stop_asked = true;
  auto endpoint = state->endpoint.lock();
  ari::Client* client = endpoint && !endpoint->destroyed() ? endpoint->ari() : nullptr;
  if (!client) co_return;
  endpoint.reset();
  const ari::playbacks::Stop stop{.playback_id = state->playback_id};
  co_await client->playbacks().async_stop(stop, asio::as_tuple(asio::use_awaitable));
}

// Waits for the current playback to end (after a stop, say), or the verb to be over.
asio::awaitable<void> settle(std::shared_ptr<VerbState> state) {
  while (state->playing && !state->call_ended) co_await wait_for_news(*state, std::nullopt);
}

// Cleanup of a cancelled verb (its handler has completed already): stop the prompt and let
// its PlaybackFinished reach the endpoint's signal.
asio::awaitable<void> wind_down(std::shared_ptr<VerbState> state) {
  co_await stop_playback(state);
  co_await settle(state);
}

// How the current (finished) playback ended.
asio::awaitable<PlayEnd> playback_end(std::shared_ptr<VerbState> state) {
  if (state->final_state == "failed" || state->final_state == "vanished") {
    // A hangup mid-playback is "failed" too, maybe before the endpoint hears of the hangup:
    // ask whether the channel is still there.
    auto endpoint = state->endpoint.lock();
    ari::Client* client = endpoint && !endpoint->destroyed() ? endpoint->ari() : nullptr;
    if (!client) co_return PlayEnd::call_ended;
    const ari::channels::Get get{.channel_id = endpoint->channel_id()};
    endpoint.reset();
    auto [error, channel] = co_await client->channels().async_get(get, asio::as_tuple(asio::use_awaitable));
    auto after = state->endpoint.lock();
    if (state->call_ended || !after || after->destroyed()) co_return PlayEnd::call_ended;
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const ari::NotFound&) {
        co_return PlayEnd::call_ended;
      } catch (...) {
      }
    }
    // The channel may still be there while its hangup is under way (seen after an ARI DELETE):
    // a short settle window for the endpoint's end before calling it a failed playback.
    const auto settle = Clock::now() + std::chrono::milliseconds(500);
    while (!state->call_ended && Clock::now() < settle) co_await wait_for_news(*state, settle);
    if (state->call_ended) co_return PlayEnd::call_ended;
    co_return PlayEnd::failed;
  }
  co_return state->stop_asked ? PlayEnd::stopped : PlayEnd::finished;
}

asio::awaitable<PlayResult> run_play(std::shared_ptr<VerbState> state, std::vector<std::string> media,
                                     PlayOptions options) {
  PlayResult result{.end = PlayEnd::finished, .playback_id = options.playback_id, .digit = std::nullopt};
  if (state->over()) co_return result;
  co_await start_playback(state, options.playback_id, std::move(media), options.language, options.offset, options.skip);
  for (;;) {
    if (state->cancelled) {
      co_await wind_down(state);
      co_return result;
    }
    if (state->call_ended) {
      result.end = PlayEnd::call_ended;
      co_return result;
    }
    if (options.stop_on_dtmf && !result.digit && !state->digits.empty()) {
      result.digit = state->digits.front().first;
      co_await stop_playback(state);
      continue;
    }
    if (!state->playing) break;
    co_await wait_for_news(*state, std::nullopt);
  }
  result.end = co_await playback_end(state);
  if (state->call_ended) result.end = PlayEnd::call_ended;
  co_return result;
}

struct CollectRun {
  std::vector<std::string> prompts;
  CollectOptions options;
  std::optional<std::regex> regex;
  CollectResult progress;  // what a call_ended completion reports
};

asio::awaitable<CollectResult> run_collect(std::shared_ptr<VerbState> state, std::shared_ptr<CollectRun> run) {
  const auto& options = run->options;
  mrf::detail::DigitCollector collector(options, run->regex);
  auto& result = run->progress;
  auto make_id = [&] {
    auto endpoint = state->endpoint.lock();
    return endpoint ? endpoint->make_playback_id() : std::string("pb");
  };
  for (int attempt = 1; attempt <= options.tries; ++attempt) {
    result.tries = attempt;
    result.digits.clear();
    result.valid = false;
    state->digits.clear();
    if (state->over()) break;
    const bool prompt = !run->prompts.empty();
    collector.start_try(Clock::now(), prompt);
    if (prompt) co_await start_playback(state, make_id(), run->prompts, options.language, {}, {});
    for (;;) {
      if (state->over()) break;
      bool barge = false;
      while (!state->digits.empty()) {
        const auto [digit, at] = state->digits.front();
        state->digits.pop_front();
        if (collector.prompt_playing() && !state->playing && state->finished_at <= at) {
          collector.prompt_ended(state->finished_at);
        }
        barge = collector.add_digit(digit, at) || barge;
      }
      if (collector.prompt_playing() && !state->playing) collector.prompt_ended(state->finished_at);
      result.digits = collector.digits();
      if (barge) {
        // Digits that arrive while the stop request is out (it can take seconds on a loaded
        // Asterisk) must be counted before any deadline is checked: back to the top.
        co_await stop_playback(state);
        continue;
      }
      collector.tick(Clock::now());
      if (collector.end()) break;
      co_await wait_for_news(*state, collector.deadline());
    }
    if (state->cancelled) {
      co_await wind_down(state);
      co_return result;
    }
    if (!state->call_ended) {
      co_await stop_playback(state);  // the try ended: its prompt must not go on
      co_await settle(state);
    }
    if (state->call_ended) {
      result.end = CollectEnd::call_ended;
      result.valid = false;
      co_return result;
    }
    result.digits = collector.digits();
    result.end = *collector.end();
    result.valid = collector.valid();
    if (result.valid) co_return result;
    if (attempt == options.tries) {
      // Input given but rejected is "invalid"; a try nobody finished stays a timeout.
      if (result.end != CollectEnd::timeout) result.end = CollectEnd::invalid;
      co_return result;
    }
    if (!options.invalid_prompt.empty()) {  // played to its end; digits meanwhile are dropped
      co_await start_playback(state, make_id(), options.invalid_prompt, options.language, {}, {});
      while (state->playing && !state->over()) co_await wait_for_news(*state, std::nullopt);
      if (state->cancelled) {
        co_await wind_down(state);
        co_return result;
      }
    }
  }
  if (state->call_ended) result.end = CollectEnd::call_ended;
  co_return result;
}

}  // namespace

std::string Endpoint::make_playback_id() {
  if (auto* client = ari()) return client->make_id("pb");
  return channel_id_ + "-pb-" + util::Random().hex(16);
}

Playback Endpoint::playback(std::string id) { return Playback(weak_from_this(), std::move(id)); }

void Playback::start_control(const char* operation, VoidHandler handler) {
  auto endpoint = endpoint_.lock();
  auto once = astmrf::detail::make_once(
      std::move(handler), endpoint ? Access::executor(*endpoint) : asio::any_io_executor(asio::system_executor()));
  ari::Client* client = endpoint && !endpoint->destroyed() ? endpoint->ari() : nullptr;
  if (!client) {
    (*once)(call_ended_error(endpoint));
    return;
  }
  once->on_cancel();  // cancelling ends the wait only; the request may still take effect
  auto done = [once, weak = endpoint_](std::exception_ptr error) {
    (*once)(error ? verb_error(error, weak) : nullptr);
  };
  if (std::string_view(operation) == "stop") {
    auto& hooks = Access::stop_hooks(*endpoint);
    if (auto it = hooks.find(id_); it != hooks.end()) it->second();  // its verb then reports "stopped"
    client->playbacks().async_stop(ari::playbacks::Stop{.playback_id = id_}, std::move(done));
  } else {
    client->playbacks().async_control(ari::playbacks::Control{.playback_id = id_, .operation = operation},
                                      std::move(done));
  }
}

void Endpoint::start_play(std::vector<std::string> media, PlayOptions options, PlayHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (end_.ended() || ari() == nullptr) {
    (*once)(std::make_exception_ptr(CallEnded(end_.value())), PlayResult{});
    return;
  }
  if (media.empty()) {
    (*once)(std::make_exception_ptr(std::invalid_argument("play: no media")), PlayResult{});
    return;
  }
  if (options.playback_id.empty()) options.playback_id = make_playback_id();
  auto state = std::make_shared<VerbState>(executor_);
  listen(state, *this, options.stop_on_dtmf);
  state->complete_call_ended = [weak = std::weak_ptr<decltype(once)::element_type>(once), id = options.playback_id] {
    if (auto o = weak.lock()) (*o)(nullptr, PlayResult{PlayEnd::call_ended, id, std::nullopt});
  };
  std::weak_ptr<VerbState> weak = state;
  once->on_cancel([weak] {
    if (auto s = weak.lock()) {
      s->cancelled = true;
      s->poke();
    }
  });
  asio::co_spawn(executor_, run_play(state, std::move(media), std::move(options)),
                 [once, state](std::exception_ptr error, PlayResult result) { (*once)(error, std::move(result)); });
}

void Endpoint::start_say(std::string value, SayKind kind, std::string language, PlayHandler handler) {
  std::vector<std::string> media;
  try {
    media = mrf::detail::say_media(value, kind);
  } catch (const std::invalid_argument&) {
    auto once = astmrf::detail::make_once(std::move(handler), executor_);
    (*once)(std::current_exception(), PlayResult{});
    return;
  }
  PlayOptions options;
  options.language = std::move(language);
  start_play(std::move(media), std::move(options), std::move(handler));
}

void Endpoint::start_collect(std::vector<std::string> prompts, CollectOptions options, CollectHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  auto run = std::make_shared<CollectRun>();
  try {
    run->regex = mrf::detail::check_collect_options(options);
  } catch (const std::invalid_argument&) {
    (*once)(std::current_exception(), CollectResult{});
    return;
  }
  if (end_.ended() || ari() == nullptr) {
    (*once)(std::make_exception_ptr(CallEnded(end_.value())), CollectResult{});
    return;
  }
  run->prompts = std::move(prompts);
  run->options = std::move(options);
  auto state = std::make_shared<VerbState>(executor_);
  listen(state, *this, true);  // before the prompt: digits pressed during it count
  std::weak_ptr<CollectRun> weak_run = run;
  state->complete_call_ended = [weak = std::weak_ptr<decltype(once)::element_type>(once), weak_run] {
    auto o = weak.lock();
    auto r = weak_run.lock();
    if (!o || !r) return;
    auto result = r->progress;
    result.end = CollectEnd::call_ended;
    result.valid = false;
    (*o)(nullptr, std::move(result));
  };
  std::weak_ptr<VerbState> weak = state;
  once->on_cancel([weak] {
    if (auto s = weak.lock()) {
      s->cancelled = true;
      s->poke();
    }
  });
  asio::co_spawn(executor_, run_collect(state, run),
                 [once, state, run](std::exception_ptr error, CollectResult result) {
                   if (error && is_call_ended(error)) {  // the channel went away under a request: not an error here
                     result = run->progress;
                     result.end = CollectEnd::call_ended;
                     result.valid = false;
                     error = nullptr;
                   }
                   (*once)(error, std::move(result));
                 });
}

}  // namespace astmrf::mrf
