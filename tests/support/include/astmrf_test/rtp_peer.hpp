// The caller's media end of a test call: one RTP socket on 127.0.0.1 that records
// what it receives (packets, payload types, RFC 4733 digits, audio level) and sends
// PCMU silence, tones and RFC 4733 digits at a 20 ms pace.
//
// Threading: each RtpPeer runs its own io_context on its own thread, started by the
// constructor and joined by the destructor, so a test needs no event loop of its own
// (sipp and the ARI probe are synchronous too). Every public member is thread-safe;
// the wait_* members block the calling thread until the condition holds or the
// timeout passes.
//
// Far end: set it with set_remote() or set_remote_from_sdp() (with sipp as the
// signalling side, SippProcess::wait_for_received_sdp() gives the far end's answer).
// Until one is set, the
// peer answers to the source of the first packet it receives (symmetric RTP, as
// Asterisk's rtp_symmetric does): enough when the far end speaks first. Once the far
// end is known, packets from any other source are only counted as stray.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf_test {

// RTP payload types the peer offers and understands.
inline constexpr std::uint8_t kPcmuPayloadType = 0;
inline constexpr std::uint8_t kTelephoneEventPayloadType = 101;

// The SDP direction attribute (RFC 3264).
enum class RtpDirection { sendrecv, sendonly, recvonly, inactive };

// "sendrecv", "sendonly", ...
std::string_view to_string(RtpDirection direction);

// The first audio stream of an SDP body, as far as an RTP peer needs it.
struct SdpAudio {
  std::string address;                              // media-level c= if present, else session-level
  std::uint16_t port = 0;                           // from m=audio (0: stream rejected)
  std::vector<std::uint8_t> payload_types;          // in m= line order
  RtpDirection direction = RtpDirection::sendrecv;  // a=sendonly/... (media level wins), sendrecv if absent
  std::optional<std::uint8_t> telephone_event;      // the PT of a=rtpmap:N telephone-event/8000
};

// Parses the first m=audio stream of `sdp` (CRLF or LF lines); nothing if there is none
// or no connection address applies to it.
std::optional<SdpAudio> parse_sdp_audio(std::string_view sdp);

// G.711 µ-law (ITU-T G.711, 14-bit magnitude with bias 0x84) on 16-bit linear samples.
std::uint8_t linear_to_ulaw(std::int16_t sample);
std::int16_t ulaw_to_linear(std::uint8_t code);

// Checks on 8 kHz samples: the level in dBm0 (-infinity for digital silence), and the
// share of the signal's power at one frequency (Goertzel; near 1 for a pure tone there).
double level_dbm0(const std::vector<std::int16_t>& samples);
double tone_share(const std::vector<std::int16_t>& samples, double frequency_hz);

// One RFC 4733 telephone-event as received: retransmissions of the same event (same RTP
// timestamp), including the three End packets, make one digit.
struct ReceivedDigit {
  char digit = '?';                       // 0-9 * # A-D ('?' for other event codes)
  std::uint32_t timestamp = 0;            // the event's RTP timestamp
  std::chrono::milliseconds duration{0};  // the largest duration field seen (8 kHz clock)
  bool ended = false;                     // an End-bit packet arrived
  std::chrono::steady_clock::time_point first_seen;
};

class RtpPeer {
 public:
  using Clock = std::chrono::steady_clock;

  // Binds a UDP socket to 127.0.0.1:`port` (0: the kernel picks) and starts the thread.
  explicit RtpPeer(std::uint16_t port = 0);
  ~RtpPeer();
  RtpPeer(const RtpPeer&) = delete;
  RtpPeer& operator=(const RtpPeer&) = delete;

  std::uint16_t port() const;

  // An SDP offer or answer for this peer: PCMU/8000 and telephone-event/8000 (PT 101,
  // events 0-16), ptime 20, the given direction. Each call bumps the o= version, so
  // a re-INVITE's offer is a new version of the session.
  std::string sdp(RtpDirection direction = RtpDirection::sendrecv);

  // Where to send (set_remote throws boost::system::system_error for a bad address).
  // set_remote_from_sdp() takes the far end's offer or answer; it throws
  // std::invalid_argument when the SDP has no usable audio stream, and adopts its
  // telephone-event payload type for sending and decoding.
  void set_remote(const std::string& address, std::uint16_t port);
  void set_remote_from_sdp(std::string_view sdp);
  // The far end's address as "ip:port", empty while unknown.
  std::string remote() const;

  // ---- what was received
  std::size_t packets_received() const;
  std::size_t packets_received(std::uint8_t payload_type) const;
  // Packets from a source other than the far end, not counted anywhere else.
  std::size_t stray_packets_received() const;
  // PCMU packets whose mean level is above -50 dBm0 (audio, not digital silence).
  std::size_t audio_packets_received() const;
  std::optional<Clock::time_point> last_packet_time() const;
  std::optional<Clock::time_point> last_audio_packet_time() const;
  // When each audio packet arrived (the first 60 s), for checks on the far end's pacing.
  std::vector<Clock::time_point> audio_packet_times() const;
  // Every telephone-event received, in arrival order, and the digits as a string.
  std::vector<ReceivedDigit> digits() const;
  std::string digit_string() const;
  // The decoded PCMU samples received (the first 60 s), for checks on the signal.
  std::vector<std::int16_t> received_samples() const;
  // Forgets everything received (counters, digits, samples), not the far end.
  void clear_received();

  // True once `count` packets (of any payload type) have arrived in total.
  bool wait_for_packets(std::size_t count, std::chrono::milliseconds timeout) const;
  // True once `count` PCMU packets with audio (see audio_packets_received) have arrived.
  bool wait_for_audio_packets(std::size_t count, std::chrono::milliseconds timeout) const;
  // True once `count` digits have ended (End bit seen).
  bool wait_for_digits(std::size_t count, std::chrono::milliseconds timeout) const;
  // True once no packet has arrived for `quiet` (counted from the last packet, or from
  // the call if none came yet): "the far end stopped sending". False on timeout.
  bool wait_for_quiet(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) const;

  // ---- sending: queued, then sent one 20 ms frame at a time from the peer's thread.
  // They return at once; wait_until_sent() waits for the queue to drain. Nothing is
  // sent while no far end is known (queued frames wait for one).
  void send_silence(std::chrono::milliseconds duration);
  // A sine of `frequency_hz` at `level_dbm0` (0 dBm0: the G.711 reference level).
  void send_tone(double frequency_hz, double level_dbm0, std::chrono::milliseconds duration);
  // Each digit as one RFC 4733 event of `tone` (End packet sent three times), then `gap`
  // of PCMU silence. Throws std::invalid_argument for a character that is no DTMF digit.
  void send_digits(std::string_view digits, std::chrono::milliseconds tone = std::chrono::milliseconds(160),
                   std::chrono::milliseconds gap = std::chrono::milliseconds(240));
  // Drops what is queued and not yet sent.
  void stop_sending();
  bool wait_until_sent(std::chrono::milliseconds timeout) const;
  std::size_t packets_sent() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace astmrf_test
