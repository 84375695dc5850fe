#include "astmrf_test/rtp_peer.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <numbers>
#include <random>
#include <stdexcept>
#include <thread>

namespace astmrf_test {
namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using namespace std::chrono_literals;

constexpr auto kPtime = 20ms;
constexpr std::size_t kSamplesPerFrame = 160;  // 20 ms at 8 kHz
constexpr std::size_t kMaxKeptSamples = 60 * 8000;
constexpr std::string_view kEventDigits = "0123456789*#ABCD";
constexpr std::uint8_t kEventVolume = 10;  // -10 dBm0
// Peak of a 0 dBm0 sine on the 16-bit scale: µ-law's full scale (32124) is +3.17 dBm0.
const double kZeroDbm0Peak = 32124.0 / std::pow(10.0, 3.17 / 20.0);
const double kZeroDbm0Rms = kZeroDbm0Peak / std::numbers::sqrt2;
const double kAudioThresholdRms = kZeroDbm0Rms * std::pow(10.0, -50.0 / 20.0);

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    auto end = text.find('\n');
    auto line = text.substr(0, end);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return lines;
}

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  while (!text.empty()) {
    auto start = text.find_first_not_of(' ');
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    auto end = text.find(' ');
    words.push_back(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end);
  }
  return words;
}

template <typename Int>
std::optional<Int> to_int(std::string_view text) {
  Int value{};
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<RtpDirection> direction_attribute(std::string_view line) {
  if (line == "a=sendrecv") return RtpDirection::sendrecv;
  if (line == "a=sendonly") return RtpDirection::sendonly;
  if (line == "a=recvonly") return RtpDirection::recvonly;
  if (line == "a=inactive") return RtpDirection::inactive;
  return std::nullopt;
}

// "c=IN IP4 addr[/ttl]" → addr.
std::optional<std::string> connection_address(std::string_view line) {
  auto words = split_words(line.substr(2));
  if (words.size() < 3 || words[0] != "IN") return std::nullopt;
  auto address = words[2].substr(0, words[2].find('/'));
  return std::string(address);
}

// One 20 ms frame waiting to be sent. Timestamps and sequence numbers are given when it
// leaves, so that a pause between bursts advances the media clock like real time.
struct Frame {
  bool event = false;        // telephone-event (else PCMU)
  bool event_start = false;  // the first packet of an event: new event timestamp, marker
  int copies = 1;            // the End packet goes three times
  std::vector<std::uint8_t> payload;
};

struct RtpHeader {
  bool marker = false;
  std::uint8_t payload_type = 0;
  std::uint32_t timestamp = 0;
  std::size_t payload_offset = 0;
  std::size_t payload_size = 0;
};

std::optional<RtpHeader> parse_rtp(const std::uint8_t* data, std::size_t size) {
  if (size < 12 || (data[0] >> 6) != 2) return std::nullopt;
  RtpHeader header;
  header.marker = (data[1] & 0x80) != 0;
  header.payload_type = data[1] & 0x7F;
  header.timestamp =
      std::uint32_t(data[4]) << 24 | std::uint32_t(data[5]) << 16 | std::uint32_t(data[6]) << 8 | data[7];
  std::size_t offset = 12 + 4 * std::size_t(data[0] & 0x0F);
  if ((data[0] & 0x10) != 0) {  // header extension
    if (size < offset + 4) return std::nullopt;
    offset += 4 + 4 * (std::size_t(data[offset + 2]) << 8 | data[offset + 3]);
  }
  std::size_t end = size;
  if ((data[0] & 0x20) != 0) {  // padding: the last octet counts it
    if (data[size - 1] > size) return std::nullopt;
    end -= data[size - 1];
  }
  if (offset > end) return std::nullopt;
  header.payload_offset = offset;
  header.payload_size = end - offset;
  return header;
}

}  // namespace

std::string_view to_string(RtpDirection direction) {
  switch (direction) {
    case RtpDirection::sendrecv: return "sendrecv";
    case RtpDirection::sendonly: return "sendonly";
    case RtpDirection::recvonly: return "recvonly";
    case RtpDirection::inactive: return "inactive";
  }
  return "sendrecv";
}

std::optional<SdpAudio> parse_sdp_audio(std::string_view sdp) {
  std::optional<std::string> session_address;
  std::optional<RtpDirection> session_direction;
  std::optional<SdpAudio> audio;
  std::optional<std::string> media_address;
  std::optional<RtpDirection> media_direction;
  bool in_audio = false;
  for (auto line : split_lines(sdp)) {
    if (line.starts_with("m=")) {
      if (audio) break;  // only the first audio stream counts
      auto words = split_words(line.substr(2));
      if (words.size() >= 3 && words[0] == "audio") {
        auto port = to_int<std::uint16_t>(words[1].substr(0, words[1].find('/')));
        if (!port) return std::nullopt;
        audio.emplace();
        audio->port = *port;
        for (std::size_t i = 3; i < words.size(); ++i) {
          if (auto pt = to_int<std::uint8_t>(words[i])) audio->payload_types.push_back(*pt);
        }
        in_audio = true;
      }
      continue;
    }
    if (line.starts_with("c=")) {
      (in_audio ? media_address : session_address) = connection_address(line);
    } else if (auto direction = direction_attribute(line)) {
      (in_audio ? media_direction : session_direction) = direction;
    } else if (in_audio && line.starts_with("a=rtpmap:")) {
      auto words = split_words(line.substr(9));
      if (words.size() >= 2 && words[1].starts_with("telephone-event/")) {
        audio->telephone_event = to_int<std::uint8_t>(words[0]);
      }
    }
  }
  if (!audio) return std::nullopt;
  auto address = media_address ? media_address : session_address;
  if (!address) return std::nullopt;
  audio->address = *address;
  audio->direction = media_direction.value_or(session_direction.value_or(RtpDirection::sendrecv));
  return audio;
}

std::uint8_t linear_to_ulaw(std::int16_t sample) {
  constexpr int kBias = 0x84;
  constexpr int kClip = 32635;
  int magnitude = sample;
  std::uint8_t sign = 0;
  if (magnitude < 0) {
    magnitude = -magnitude;
    sign = 0x80;
  }
  magnitude = std::min(magnitude, kClip) + kBias;
  // The segment is the position of the highest set bit above bit 7 (bias keeps bit 7 set).
  int exponent = 7;
  for (int mask = 0x4000; (magnitude & mask) == 0 && exponent > 0; mask >>= 1) --exponent;
  int mantissa = (magnitude >> (exponent + 3)) & 0x0F;
  return static_cast<std::uint8_t>(~(sign | (exponent << 4) | mantissa));
}

std::int16_t ulaw_to_linear(std::uint8_t code) {
  code = static_cast<std::uint8_t>(~code);
  int exponent = (code >> 4) & 0x07;
  int magnitude = (((code & 0x0F) << 3) + 0x84) << exponent;
  magnitude -= 0x84;
  return static_cast<std::int16_t>((code & 0x80) != 0 ? -magnitude : magnitude);
}

double level_dbm0(const std::vector<std::int16_t>& samples) {
  double energy = 0;
  for (auto sample : samples) energy += double(sample) * sample;
  if (energy == 0) return -std::numeric_limits<double>::infinity();
  return 20 * std::log10(std::sqrt(energy / double(samples.size())) / kZeroDbm0Rms);
}

double tone_share(const std::vector<std::int16_t>& samples, double frequency_hz) {
  const double coefficient = 2 * std::cos(2 * std::numbers::pi * frequency_hz / 8000.0);
  double previous = 0, before = 0, total = 0;
  for (auto sample : samples) {
    const double current = sample + coefficient * previous - before;
    before = previous;
    previous = current;
    total += double(sample) * sample;
  }
  if (total == 0) return 0;
  const double power = previous * previous + before * before - coefficient * previous * before;
  return 2 * power / (double(samples.size()) * total);
}

struct RtpPeer::Impl {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  udp::socket socket{io};
  asio::steady_timer timer{io};
  std::thread thread;
  std::uint16_t local_port = 0;

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  // -- guarded by mutex
  std::optional<udp::endpoint> remote;
  std::uint8_t event_payload_type = kTelephoneEventPayloadType;
  std::size_t received = 0;
  std::size_t stray = 0;
  std::array<std::size_t, 128> received_by_type{};
  std::size_t audio_received = 0;
  std::optional<Clock::time_point> last_packet;
  std::optional<Clock::time_point> last_audio_packet;
  std::vector<Clock::time_point> audio_times;  // arrival of each audio packet (the first 60 s)
  std::vector<ReceivedDigit> digits;
  std::vector<std::int16_t> samples;
  std::deque<Frame> queue;
  std::size_t sent = 0;
  std::uint64_t sdp_version = 0;
  // -- used on the peer's thread only
  std::array<std::uint8_t, 2048> buffer{};
  udp::endpoint sender;
  bool sending = false;
  Clock::time_point next_frame;
  std::optional<Clock::time_point> last_sent;
  std::uint16_t sequence = 0;
  std::uint32_t timestamp = 0;
  std::uint32_t event_timestamp = 0;
  std::uint32_t ssrc = 0;
  std::uint64_t session_id = 0;

  void receive() {
    socket.async_receive_from(asio::buffer(buffer), sender, [this](boost::system::error_code error, std::size_t size) {
      if (error == asio::error::operation_aborted) return;
      if (!error) on_packet(size);
      receive();
    });
  }

  void on_packet(std::size_t size) {
    auto header = parse_rtp(buffer.data(), size);
    if (!header) return;
    const std::uint8_t* payload = buffer.data() + header->payload_offset;
    const auto now = Clock::now();
    bool latched = false;
    {
      std::lock_guard lock(mutex);
      if (!remote) {
        remote = sender;
        latched = true;
      } else if (sender != *remote) {
        // Another stream (e.g. a call an earlier test leaked, still sending to a port the
        // kernel gave out again) must not count as the far end's media.
        ++stray;
        return;
      }
      ++received;
      ++received_by_type[header->payload_type];
      last_packet = now;
      if (header->payload_type == kPcmuPayloadType) {
        on_pcmu(payload, header->payload_size, now);
      } else if (header->payload_type == event_payload_type && header->payload_size >= 4) {
        on_event(header->timestamp, payload, now);
      }
    }
    changed.notify_all();
    if (latched) start_sending();
  }

  void on_pcmu(const std::uint8_t* payload, std::size_t size, Clock::time_point now) {
    double energy = 0;
    for (std::size_t i = 0; i < size; ++i) {
      auto sample = ulaw_to_linear(payload[i]);
      energy += double(sample) * sample;
      if (samples.size() < kMaxKeptSamples) samples.push_back(sample);
    }
    if (size > 0 && std::sqrt(energy / double(size)) > kAudioThresholdRms) {
      ++audio_received;
      last_audio_packet = now;
      if (audio_times.size() < kMaxKeptSamples / 160) audio_times.push_back(now);
    }
  }

  // RFC 4733: every packet of one event carries the event's start timestamp, so the
  // timestamp tells a new event from a retransmission or a longer duration.
  void on_event(std::uint32_t event_timestamp_received, const std::uint8_t* payload, Clock::time_point now) {
    const bool end = (payload[1] & 0x80) != 0;
    const auto duration = std::chrono::milliseconds((std::uint32_t(payload[2]) << 8 | payload[3]) / 8);
    auto same = std::find_if(digits.rbegin(), digits.rend(),
                             [&](const ReceivedDigit& digit) { return digit.timestamp == event_timestamp_received; });
    if (same == digits.rend()) {
      ReceivedDigit digit;
      digit.digit = payload[0] < kEventDigits.size() ? kEventDigits[payload[0]] : '?';
      digit.timestamp = event_timestamp_received;
      digit.first_seen = now;
      digits.push_back(digit);
      same = digits.rbegin();
    }
    same->duration = std::max(same->duration, duration);
    same->ended = same->ended || end;
  }

  // On the peer's thread: starts the 20 ms clock if there is something to send and
  // somewhere to send it.
  void start_sending() {
    if (sending) return;
    {
      std::lock_guard lock(mutex);
      if (queue.empty() || !remote) return;
    }
    sending = true;
    const auto now = Clock::now();
    // A new burst: the media clock moved on while nothing was sent.
    if (last_sent) {
      timestamp += static_cast<std::uint32_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(now - *last_sent).count() / 125);
    }
    next_frame = now;
    send_frame(true);
  }

  // Sends one frame's packets (the caller holds the mutex).
  void send_packets(const Frame& frame, bool first_of_burst) {
    if (frame.event_start) event_timestamp = timestamp;
    const bool marker = frame.event_start || (first_of_burst && !frame.event);
    const std::uint8_t type = frame.event ? event_payload_type : kPcmuPayloadType;
    const std::uint32_t stamp = frame.event ? event_timestamp : timestamp;
    for (int copy = 0; copy < frame.copies; ++copy) {
      std::vector<std::uint8_t> packet{0x80,
                                       static_cast<std::uint8_t>((marker && copy == 0 ? 0x80 : 0) | type),
                                       static_cast<std::uint8_t>(sequence >> 8),
                                       static_cast<std::uint8_t>(sequence),
                                       static_cast<std::uint8_t>(stamp >> 24),
                                       static_cast<std::uint8_t>(stamp >> 16),
                                       static_cast<std::uint8_t>(stamp >> 8),
                                       static_cast<std::uint8_t>(stamp),
                                       static_cast<std::uint8_t>(ssrc >> 24),
                                       static_cast<std::uint8_t>(ssrc >> 16),
                                       static_cast<std::uint8_t>(ssrc >> 8),
                                       static_cast<std::uint8_t>(ssrc)};
      packet.insert(packet.end(), frame.payload.begin(), frame.payload.end());
      ++sequence;
      boost::system::error_code ignored;  // UDP: a lost packet is the far end's business
      socket.send_to(asio::buffer(packet), *remote, 0, ignored);
      ++sent;
    }
    timestamp += kSamplesPerFrame;
    last_sent = Clock::now();
  }

  void send_frame(bool first_of_burst) {
    {
      // Under the lock from pop to send, so that an empty queue means "all sent".
      std::lock_guard lock(mutex);
      if (queue.empty() || !remote) {
        sending = false;
      } else {
        Frame frame = std::move(queue.front());
        queue.pop_front();
        send_packets(frame, first_of_burst);
      }
    }
    changed.notify_all();
    if (!sending) return;
    next_frame += kPtime;
    // Behind by more than a few frames (a stalled machine): catch up instead of bursting.
    const auto now = Clock::now();
    if (next_frame < now - 5 * kPtime) next_frame = now;
    timer.expires_at(next_frame);
    timer.async_wait([this](boost::system::error_code error) {
      if (!error) send_frame(false);
    });
  }

  void enqueue(std::vector<Frame> frames) {
    {
      std::lock_guard lock(mutex);
      for (auto& frame : frames) queue.push_back(std::move(frame));
    }
    asio::post(io, [this] { start_sending(); });
  }
};

RtpPeer::RtpPeer(std::uint16_t port) : impl_(std::make_unique<Impl>()) {
  impl_->socket.open(udp::v4());
  impl_->socket.bind(udp::endpoint(asio::ip::make_address_v4("127.0.0.1"), port));
  impl_->local_port = impl_->socket.local_endpoint().port();
  std::random_device random;
  impl_->ssrc = random();
  impl_->sequence = static_cast<std::uint16_t>(random());
  impl_->timestamp = random();
  impl_->session_id = random() & 0x7FFFFFFF;
  impl_->receive();
  impl_->thread = std::thread([impl = impl_.get()] { impl->io.run(); });
}

RtpPeer::~RtpPeer() {
  impl_->io.stop();
  impl_->thread.join();
}

std::uint16_t RtpPeer::port() const { return impl_->local_port; }

std::string RtpPeer::sdp(RtpDirection direction) {
  std::uint64_t version = 0;
  {
    std::lock_guard lock(impl_->mutex);
    version = ++impl_->sdp_version;
  }
  const auto port_text = std::to_string(port());
  const auto type = std::to_string(kTelephoneEventPayloadType);
  return "v=0\r\n"
         "o=astmrf-test " +
         std::to_string(impl_->session_id) + " " + std::to_string(version) +
         " IN IP4 127.0.0.1\r\n"
         "s=-\r\n"
         "c=IN IP4 127.0.0.1\r\n"
         "t=0 0\r\n"
         "m=audio " +
         port_text + " RTP/AVP 0 " + type +
         "\r\n"
         "a=rtpmap:0 PCMU/8000\r\n"
         "a=rtpmap:" +
         type +
         " telephone-event/8000\r\n"
         "a=fmtp:" +
         type +
         " 0-16\r\n"
         "a=ptime:20\r\n"
         "a=" +
         std::string(to_string(direction)) + "\r\n";
}

void RtpPeer::set_remote(const std::string& address, std::uint16_t port) {
  udp::endpoint endpoint(asio::ip::make_address(address), port);
  {
    std::lock_guard lock(impl_->mutex);
    impl_->remote = endpoint;
  }
  asio::post(impl_->io, [impl = impl_.get()] { impl->start_sending(); });
}

void RtpPeer::set_remote_from_sdp(std::string_view sdp) {
  auto audio = parse_sdp_audio(sdp);
  if (!audio || audio->port == 0) throw std::invalid_argument("no usable audio stream in SDP:\n" + std::string(sdp));
  boost::system::error_code error;
  auto address = asio::ip::make_address(audio->address, error);
  if (error) throw std::invalid_argument("SDP connection address is no IP address: " + audio->address);
  {
    std::lock_guard lock(impl_->mutex);
    impl_->remote = udp::endpoint(address, audio->port);
    if (audio->telephone_event) impl_->event_payload_type = *audio->telephone_event;
  }
  asio::post(impl_->io, [impl = impl_.get()] { impl->start_sending(); });
}

std::string RtpPeer::remote() const {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->remote) return {};
  return impl_->remote->address().to_string() + ":" + std::to_string(impl_->remote->port());
}

std::size_t RtpPeer::packets_received() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::size_t RtpPeer::packets_received(std::uint8_t payload_type) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received_by_type.at(payload_type & 0x7F);
}

std::size_t RtpPeer::stray_packets_received() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->stray;
}

std::size_t RtpPeer::audio_packets_received() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->audio_received;
}

std::optional<RtpPeer::Clock::time_point> RtpPeer::last_packet_time() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->last_packet;
}

std::optional<RtpPeer::Clock::time_point> RtpPeer::last_audio_packet_time() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->last_audio_packet;
}

std::vector<RtpPeer::Clock::time_point> RtpPeer::audio_packet_times() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->audio_times;
}

std::vector<ReceivedDigit> RtpPeer::digits() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->digits;
}

std::string RtpPeer::digit_string() const {
  std::lock_guard lock(impl_->mutex);
  std::string text;
  for (const auto& digit : impl_->digits) text += digit.digit;
  return text;
}

std::vector<std::int16_t> RtpPeer::received_samples() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->samples;
}

void RtpPeer::clear_received() {
  std::lock_guard lock(impl_->mutex);
  impl_->received = 0;
  impl_->stray = 0;
  impl_->received_by_type.fill(0);
  impl_->audio_received = 0;
  impl_->last_packet.reset();
  impl_->last_audio_packet.reset();
  impl_->audio_times.clear();
  impl_->digits.clear();
  impl_->samples.clear();
}

bool RtpPeer::wait_for_packets(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->received >= count; });
}

bool RtpPeer::wait_for_audio_packets(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->audio_received >= count; });
}

bool RtpPeer::wait_for_digits(std::size_t count, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] {
    return std::size_t(std::count_if(impl_->digits.begin(), impl_->digits.end(),
                                     [](const ReceivedDigit& digit) { return digit.ended; })) >= count;
  });
}

bool RtpPeer::wait_for_quiet(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) const {
  const auto called = Clock::now();
  const auto deadline = called + timeout;
  std::unique_lock lock(impl_->mutex);
  while (true) {
    const auto since = impl_->last_packet.value_or(called);
    const auto now = Clock::now();
    if (now - since >= quiet) return true;
    if (now >= deadline) return false;
    impl_->changed.wait_until(lock, std::min(since + quiet, deadline));
  }
}

void RtpPeer::send_silence(std::chrono::milliseconds duration) {
  std::vector<Frame> frames(std::max<std::size_t>(1, duration / kPtime));
  for (auto& frame : frames) frame.payload.assign(kSamplesPerFrame, 0xFF);
  impl_->enqueue(std::move(frames));
}

void RtpPeer::send_tone(double frequency_hz, double level_dbm0, std::chrono::milliseconds duration) {
  const double amplitude = kZeroDbm0Peak * std::pow(10.0, level_dbm0 / 20.0);
  const double step = 2 * std::numbers::pi * frequency_hz / 8000.0;
  std::vector<Frame> frames(std::max<std::size_t>(1, duration / kPtime));
  std::size_t n = 0;
  for (auto& frame : frames) {
    frame.payload.reserve(kSamplesPerFrame);
    for (std::size_t i = 0; i < kSamplesPerFrame; ++i, ++n) {
      double value = std::clamp(amplitude * std::sin(step * double(n)), -32767.0, 32767.0);
      frame.payload.push_back(linear_to_ulaw(static_cast<std::int16_t>(std::lround(value))));
    }
  }
  impl_->enqueue(std::move(frames));
}

void RtpPeer::send_digits(std::string_view digits, std::chrono::milliseconds tone, std::chrono::milliseconds gap) {
  std::vector<Frame> frames;
  for (char digit : digits) {
    auto code = kEventDigits.find(static_cast<char>(std::toupper(static_cast<unsigned char>(digit))));
    if (code == std::string_view::npos) throw std::invalid_argument(std::string("not a DTMF digit: ") + digit);
    const std::size_t count = std::max<std::size_t>(3, tone / kPtime);
    for (std::size_t index = 0; index < count; ++index) {
      const bool last = index + 1 == count;
      const auto duration = static_cast<std::uint16_t>((index + 1) * kSamplesPerFrame);
      Frame frame;
      frame.event = true;
      frame.event_start = index == 0;
      frame.copies = last ? 3 : 1;  // RFC 4733 2.5.1.4: the End packet three times
      frame.payload = {static_cast<std::uint8_t>(code), static_cast<std::uint8_t>((last ? 0x80 : 0) | kEventVolume),
                       static_cast<std::uint8_t>(duration >> 8), static_cast<std::uint8_t>(duration)};
      frames.push_back(std::move(frame));
    }
    for (std::size_t index = 0; index < std::size_t(gap / kPtime); ++index) {
      Frame frame;
      frame.payload.assign(kSamplesPerFrame, 0xFF);
      frames.push_back(std::move(frame));
    }
  }
  impl_->enqueue(std::move(frames));
}

void RtpPeer::stop_sending() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->queue.clear();
  }
  impl_->changed.notify_all();
}

bool RtpPeer::wait_until_sent(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout, [&] { return impl_->queue.empty(); });
}

std::size_t RtpPeer::packets_sent() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->sent;
}

}  // namespace astmrf_test
