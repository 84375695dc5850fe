// Helpers layered over the core (they use only the public Client API).
#pragma once

#include <astmrf/ari/client.hpp>

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

namespace astmrf::ari {

/// Play a prompt and collect DTMF digits from a channel in Stasis.
struct CollectOptions {
  /// The channel to play to and collect from.
  std::string channel_id{};
  std::vector<std::string> media{};                     ///< prompt ("sound:x", ...); empty: no prompt
  std::size_t max_digits = 1;                           ///< collection ends when this many digits arrived
  std::string terminators = "#";                        ///< a digit among these ends collection (not included)
  bool barge_in = true;                                 ///< the first digit stops the prompt
  std::chrono::milliseconds first_digit_timeout{5000};  ///< from the end of the prompt
  /// Gap allowed between two digits.
  std::chrono::milliseconds inter_digit_timeout{3000};
};

/// What async_play_and_collect yields.
struct CollectResult {
  /// The digits collected, terminator excluded.
  std::string digits{};
  bool terminated = false;  ///< a terminator digit ended collection
  bool timed_out = false;   ///< a timeout ended collection
};

namespace detail {
using collect_handler = boost::asio::any_completion_handler<void(std::exception_ptr, CollectResult)>;
void start_play_and_collect(Client& client, CollectOptions options, collect_handler handler);
}  // namespace detail

/// Subscribes to the channel's DTMF first, plays the prompt with a client-chosen playback id, and
/// collects digits until max_digits, a terminator or a timeout. Completes with
/// `(std::exception_ptr, CollectResult)`; the exception is an ari::Error from the play request, or
/// boost::system::system_error(errc::resource_ended) if the channel left Stasis meanwhile.
/// Cancelled, it completes at once with operation_aborted and stops the prompt.
template <typename CompletionToken>
auto async_play_and_collect(Client& client, CollectOptions options, CompletionToken&& token) {
  return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, CollectResult)>(
      [&client](auto handler, CollectOptions o) {
        detail::start_play_and_collect(client, std::move(o), detail::collect_handler(std::move(handler)));
      },
      token, std::move(options));
}

}  // namespace astmrf::ari
