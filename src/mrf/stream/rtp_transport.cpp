// The rtp transport: one UDP socket of ours that Asterisk's UnicastRTP channel (chan_rtp) sends
// to, and that sends to the address Asterisk reports in UNICASTRTP_LOCAL_ADDRESS/PORT. Payload
// types are Asterisk's static ones (no SDP): ulaw 0, alaw 8, slin16 118; linear PCM is big-endian
// on RTP. Only packets from Asterisk's address are taken (strictrtp does the same on its side).
#include "transport.hpp"

#include <astmrf/util/random.hpp>
#include <astmrf/util/socket.hpp>

#include <boost/asio/ip/udp.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <stdexcept>

namespace astmrf::mrf::detail {

namespace {

namespace asio = boost::asio;
using udp = asio::ip::udp;

constexpr std::size_t kHeader = 12;

std::uint8_t payload_type(AudioFormat format) {
  switch (format) {
    case AudioFormat::ulaw: return 0;
    case AudioFormat::alaw: return 8;
    case AudioFormat::slin16: return 118;
    case AudioFormat::slin: break;
  }
  throw std::invalid_argument("rtp cannot carry slin: use ulaw, alaw or slin16");
}

// A channel variable of Asterisk's answer, as a string.
std::string channel_var(const ari::Channel& channel, std::string_view name) {
  if (const auto* v = channel.channelvars.if_contains(name); v && v->is_string()) return std::string(v->as_string());
  return {};
}

struct Rtp : std::enable_shared_from_this<Rtp> {
  explicit Rtp(TransportContext c) : ctx(std::move(c)), socket(ctx.executor), pt(payload_type(ctx.format)) {
    util::Random random;
    ssrc = static_cast<std::uint32_t>(random());
    sequence = static_cast<std::uint16_t>(random());
    timestamp = static_cast<std::uint32_t>(random());
  }

  TransportContext ctx;
  udp::socket socket;
  std::uint8_t pt;
  udp::endpoint remote;
  udp::endpoint from;
  std::array<std::uint8_t, 2048> in{};
  std::vector<std::uint8_t> out_packet;
  std::vector<std::int16_t> samples;
  std::uint32_t ssrc{0};
  std::uint16_t sequence{0};
  std::uint32_t timestamp{0};
  bool first{true};
  bool closed{false};
  std::uint64_t dropped{0};

  void receive() {
    socket.async_receive_from(asio::buffer(in), from,
                              [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                                if (self->closed) return;
                                if (ec) {
                                  if (ec == asio::error::operation_aborted) return;
                                  // ICMP port unreachable and the like: not fatal for UDP.
                                  self->receive();
                                  return;
                                }
                                self->packet(n);
                                if (!self->closed) self->receive();
                              });
  }

  void packet(std::size_t n) {
    auto* sink = ctx.sink;
    if (sink == nullptr) return;
    if (from != remote) {
      sink->on_malformed("an RTP packet from " + from.address().to_string() + ":" + std::to_string(from.port()) +
                         ", not Asterisk");
      return;
    }
    if (n < kHeader || (in[0] >> 6) != 2) {
      sink->on_malformed("not an RTP packet (" + std::to_string(n) + " bytes)");
      return;
    }
    const std::size_t csrc = in[0] & 0x0f;
    std::size_t offset = kHeader + 4 * csrc;
    if ((in[0] & 0x10) != 0) {  // header extension
      if (n < offset + 4) {
        sink->on_malformed("a truncated RTP header extension");
        return;
      }
      offset += 4 + 4 * ((static_cast<std::size_t>(in[offset + 2]) << 8) | in[offset + 3]);
    }
    std::size_t end = n;
    if ((in[0] & 0x20) != 0 && n > offset) end -= std::min<std::size_t>(in[n - 1], n - offset);  // padding
    if (offset > end) {
      sink->on_malformed("an RTP header longer than its packet");
      return;
    }
    const std::uint8_t type = in[1] & 0x7f;
    if (type != pt) {
      // Comfort noise (13) and telephone-events carry no audio of ours: DTMF reaches the
      // application through the endpoint. Anything else is a mistake.
      if (type != 13 && type != 101) sink->on_malformed("RTP payload type " + std::to_string(type));
      return;
    }
    const RtpInfo info{static_cast<std::uint16_t>((in[2] << 8) | in[3]),
                       (std::uint32_t{in[4]} << 24) | (std::uint32_t{in[5]} << 16) | (std::uint32_t{in[6]} << 8) |
                           std::uint32_t{in[7]}};
    const auto payload = std::span<const std::uint8_t>(in).subspan(offset, end - offset);
    if (ctx.format == AudioFormat::slin16) {
      if (payload.size() % 2 != 0) {
        sink->on_malformed("an odd-sized slin16 payload");
        return;
      }
      samples.resize(payload.size() / 2);
      for (std::size_t i = 0; i < samples.size(); ++i)
        samples[i] = static_cast<std::int16_t>((payload[2 * i] << 8) | payload[2 * i + 1]);
    } else {
      samples.resize(payload.size());
      if (ctx.format == AudioFormat::ulaw) {
        audio::decode_ulaw(payload, samples);
      } else {
        audio::decode_alaw(payload, samples);
      }
    }
    if (samples.empty()) {
      sink->on_malformed("an empty RTP payload");
      return;
    }
    sink->on_audio(samples, info);
  }

  void send(std::span<const std::int16_t> frame) {
    if (closed || ctx.direction == StreamDirection::in) return;
    const std::size_t bytes = ctx.format == AudioFormat::slin16 ? 2 * frame.size() : frame.size();
    out_packet.resize(kHeader + bytes);
    out_packet[0] = 0x80;
    out_packet[1] = static_cast<std::uint8_t>(pt | (first ? 0x80 : 0));  // marker: the talkspurt's start
    out_packet[2] = static_cast<std::uint8_t>(sequence >> 8);
    out_packet[3] = static_cast<std::uint8_t>(sequence);
    for (int i = 0; i < 4; ++i) {
      out_packet[4 + i] = static_cast<std::uint8_t>(timestamp >> (24 - 8 * i));
      out_packet[8 + i] = static_cast<std::uint8_t>(ssrc >> (24 - 8 * i));
    }
    auto payload = std::span<std::uint8_t>(out_packet).subspan(kHeader);
    if (ctx.format == AudioFormat::slin16) {
      for (std::size_t i = 0; i < frame.size(); ++i) {
        const auto v = static_cast<std::uint16_t>(frame[i]);
        payload[2 * i] = static_cast<std::uint8_t>(v >> 8);
        payload[2 * i + 1] = static_cast<std::uint8_t>(v);
      }
    } else if (ctx.format == AudioFormat::ulaw) {
      audio::encode_ulaw(frame, payload);
    } else {
      audio::encode_alaw(frame, payload);
    }
    first = false;
    ++sequence;
    timestamp += static_cast<std::uint32_t>(frame.size());
    // A datagram on a non-blocking socket: sent now or dropped, never queued (a late frame is
    // worth nothing to a live call).
    boost::system::error_code ec;
    socket.send_to(asio::buffer(out_packet), remote, 0, ec);
    if (ec) ++dropped;
  }
};

class RtpTransport final : public MediaTransport {
 public:
  explicit RtpTransport(TransportContext context) : rtp_(std::make_shared<Rtp>(std::move(context))) {}
  ~RtpTransport() override { close(); }
  RtpTransport(const RtpTransport&) = delete;
  RtpTransport& operator=(const RtpTransport&) = delete;

  void prepare(ari::channels::ExternalMedia& request) override {
    auto& r = *rtp_;
    const auto address = asio::ip::make_address(r.ctx.local_address);
    r.socket.open(address.is_v6() ? udp::v6() : udp::v4());
    util::close_on_exec(r.socket);
    r.socket.bind(udp::endpoint(address, 0));
    r.socket.non_blocking(true);
    const auto local = r.socket.local_endpoint();
    request.encapsulation = "rtp";
    request.transport = "udp";
    request.external_host =
        (address.is_v6() ? "[" + address.to_string() + "]" : address.to_string()) + ":" + std::to_string(local.port());
  }

  void start(const ari::Channel& channel) override {
    auto& r = *rtp_;
    const auto address = channel_var(channel, "UNICASTRTP_LOCAL_ADDRESS");
    const auto port = channel_var(channel, "UNICASTRTP_LOCAL_PORT");
    boost::system::error_code ec;
    const auto ip = asio::ip::make_address(address, ec);
    unsigned long port_number = 0;
    try {
      port_number = std::stoul(port);
    } catch (const std::exception&) {
      port_number = 0;
    }
    if (ec || port_number == 0 || port_number > 65535) {
      if (auto* sink = r.ctx.sink) {
        sink->on_transport_closed("Asterisk reported no usable UNICASTRTP_LOCAL_ADDRESS/PORT (" + address + ":" + port +
                                  ")");
      }
      return;
    }
    r.remote = udp::endpoint(ip, static_cast<std::uint16_t>(port_number));
    r.ctx.log->trace("event=stream_rtp_remote stream_id={} remote={}:{}", r.ctx.stream_id, address, port_number);
    r.receive();
    if (auto* sink = r.ctx.sink) sink->on_ready();
  }

  void send(std::span<const std::int16_t> frame) override { rtp_->send(frame); }
  [[nodiscard]] std::uint64_t dropped_out() const noexcept override { return rtp_->dropped; }

  void close() override {
    auto& r = *rtp_;
    if (r.closed) return;
    r.closed = true;
    r.ctx.sink = nullptr;
    boost::system::error_code ignored;
    r.socket.close(ignored);
  }

 private:
  std::shared_ptr<Rtp> rtp_;
};

}  // namespace

std::unique_ptr<MediaTransport> make_rtp_transport(TransportContext context) {
  return std::make_unique<RtpTransport>(std::move(context));
}

}  // namespace astmrf::mrf::detail
