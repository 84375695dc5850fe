#include "client_impl.hpp"

#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/ari/helpers.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace astmrf::ari::detail {

namespace asio = boost::asio;
using clock = std::chrono::steady_clock;

namespace {

// What the event handlers tell the collecting coroutine; `wake` interrupts its wait.
struct CollectState {
  explicit CollectState(const asio::any_io_executor& ex) : wake(ex) {}
  asio::steady_timer wake;
  std::string digits;
  bool terminated = false;
  bool prompt_done = false;
  bool channel_ended = false;
  bool cancelled = false;  // the operation was cancelled: stop the prompt and end
  clock::time_point prompt_done_at{};
  clock::time_point last_digit_at{};
};

asio::awaitable<CollectResult> collect(Client& client, CollectOptions o, std::shared_ptr<CollectState> st) {
  std::weak_ptr<CollectState> w = st;
  // Subscribe first, then act: digits and the prompt's end may precede the play response.
  auto dtmf = client.subscribe(
      ResourceKind::channel, o.channel_id,
      [w, &o](const Event& e) {
        auto s = w.lock();
        if (!s || e.type() != EventType::channel_dtmf_received || s->terminated) return;
        auto digit = e.as<ChannelDtmfReceived>().digit;
        if (!digit.empty() && o.terminators.find(digit) != std::string::npos) {
          s->terminated = true;
        } else if (s->digits.size() < o.max_digits) {
          s->digits += digit;
        }
        s->last_digit_at = clock::now();
        s->wake.cancel();
      },
      [w](EndReason) {
        if (auto s = w.lock()) {
          s->channel_ended = true;
          s->wake.cancel();
        }
      });
  std::string playback;
  Subscription prompt;
  if (o.media.empty()) {
    st->prompt_done = true;
    st->prompt_done_at = clock::now();
  } else {
    playback = client.make_id("pb");
    prompt = client.subscribe(ResourceKind::playback, playback, {}, [w](EndReason) {
      if (auto s = w.lock()) {
        s->prompt_done = true;
        s->prompt_done_at = clock::now();
        s->wake.cancel();
      }
    });
    const channels::PlayWithId play{.channel_id = o.channel_id, .playback_id = playback, .media = o.media};
    co_await client.channels().async_play_with_id(play, asio::use_awaitable);
  }
  CollectResult result;
  bool stop_sent = false;
  for (;;) {
    if (st->cancelled || st->terminated || st->digits.size() >= o.max_digits) break;
    if (st->channel_ended) throw boost::system::system_error(errc::resource_ended, "play and collect");
    if (o.barge_in && !st->prompt_done && !stop_sent && !st->digits.empty()) {
      stop_sent = true;
      try {
        const playbacks::Stop stop{.playback_id = playback};
        co_await client.playbacks().async_stop(stop, asio::use_awaitable);
      } catch (const NotFound&) {  // it just finished
      }
      continue;
    }
    if (!st->prompt_done && st->digits.empty()) {
      st->wake.expires_at(clock::time_point::max());  // until the prompt ends or a digit comes
    } else {
      const auto deadline =
          st->digits.empty() ? st->prompt_done_at + o.first_digit_timeout : st->last_digit_at + o.inter_digit_timeout;
      if (clock::now() >= deadline) {
        result.timed_out = true;
        break;
      }
      st->wake.expires_at(deadline);
    }
    co_await st->wake.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (!st->prompt_done && !stop_sent && !playback.empty()) {
    try {
      const playbacks::Stop stop{.playback_id = playback};
      co_await client.playbacks().async_stop(stop, asio::use_awaitable);
    } catch (const NotFound&) {
    }
  }
  result.digits = st->digits;
  result.terminated = st->terminated;
  co_return result;
}

}  // namespace

void start_play_and_collect(Client& client, CollectOptions options, collect_handler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), client.get_executor());
  auto st = std::make_shared<CollectState>(client.get_executor());
  // Cancelled: completes at once (operation_aborted); the collection ends and stops its prompt.
  std::weak_ptr<CollectState> weak = st;
  once->on_cancel([weak] {
    if (auto s = weak.lock()) {
      s->cancelled = true;
      s->wake.cancel();
    }
  });
  asio::co_spawn(client.get_executor(), collect(client, std::move(options), std::move(st)),
                 [once](std::exception_ptr e, CollectResult r) { (*once)(e, std::move(r)); });
}

}  // namespace astmrf::ari::detail
