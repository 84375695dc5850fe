// Audio helpers (issue 19): thin glue over spandsp (G.711, Goertzel, noise), speexdsp (the
// resampler) and libsndfile (WAV files). The C headers stay in this file so that users of
// audio.hpp need none of them.
#include <astmrf/mrf/audio.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>

#include <sndfile.h>
#include <speex/speex_resampler.h>
// spandsp's headers are not self-contained: telephony.h (SPAN_DECLARE, SAMPLE_RATE) must come
// first, g711.h needs bit_operations.h (top_bit) and tone_detect.h needs complex.h
// (complexf_t). <spandsp.h> would do it all but drags in libtiff's headers. The order matters,
// so clang-format must not sort these.
// clang-format off
#include <spandsp/telephony.h>
#include <spandsp/bit_operations.h>
#include <spandsp/complex.h>
#include <spandsp/g711.h>
#include <spandsp/noise.h>
#include <spandsp/tone_detect.h>
// clang-format on

namespace astmrf::mrf {

std::string_view to_string(AudioFormat format) noexcept {
  switch (format) {
    case AudioFormat::slin16: return "slin16";
    case AudioFormat::slin: return "slin";
    case AudioFormat::ulaw: return "ulaw";
    case AudioFormat::alaw: return "alaw";
  }
  return "slin";
}

namespace audio {

// ---- G.711: spandsp's inline codecs live in the global namespace under the same names.

std::uint8_t linear_to_ulaw(std::int16_t sample) noexcept { return ::linear_to_ulaw(sample); }
std::int16_t ulaw_to_linear(std::uint8_t code) noexcept { return ::ulaw_to_linear(code); }
std::uint8_t linear_to_alaw(std::int16_t sample) noexcept { return ::linear_to_alaw(sample); }
std::int16_t alaw_to_linear(std::uint8_t code) noexcept { return ::alaw_to_linear(code); }

namespace {

void check_lengths(std::size_t in, std::size_t out, const char* what) {
  if (in != out) {
    throw std::invalid_argument(std::string(what) + ": the output holds " + std::to_string(out) +
                                " samples, the input " + std::to_string(in));
  }
}

}  // namespace

void encode_ulaw(std::span<const std::int16_t> in, std::span<std::uint8_t> out) {
  check_lengths(in.size(), out.size(), "encode_ulaw");
  std::transform(in.begin(), in.end(), out.begin(), [](std::int16_t s) { return ::linear_to_ulaw(s); });
}

void decode_ulaw(std::span<const std::uint8_t> in, std::span<std::int16_t> out) {
  check_lengths(in.size(), out.size(), "decode_ulaw");
  std::transform(in.begin(), in.end(), out.begin(), [](std::uint8_t c) { return ::ulaw_to_linear(c); });
}

void encode_alaw(std::span<const std::int16_t> in, std::span<std::uint8_t> out) {
  check_lengths(in.size(), out.size(), "encode_alaw");
  std::transform(in.begin(), in.end(), out.begin(), [](std::int16_t s) { return ::linear_to_alaw(s); });
}

void decode_alaw(std::span<const std::uint8_t> in, std::span<std::int16_t> out) {
  check_lengths(in.size(), out.size(), "decode_alaw");
  std::transform(in.begin(), in.end(), out.begin(), [](std::uint8_t c) { return ::alaw_to_linear(c); });
}

// ---- resampling (speexdsp)

namespace {

struct SpeexDeleter {
  void operator()(SpeexResamplerState* state) const noexcept { speex_resampler_destroy(state); }
};
using SpeexPtr = std::unique_ptr<SpeexResamplerState, SpeexDeleter>;

constexpr unsigned min_rate = 8000;
constexpr unsigned max_rate = 48000;

SpeexPtr make_speex(unsigned from_rate, unsigned to_rate, int quality) {
  for (unsigned rate : {from_rate, to_rate}) {
    if (rate < min_rate || rate > max_rate) {
      throw std::invalid_argument("Resampler: the rate " + std::to_string(rate) + " Hz is outside 8000…48000");
    }
  }
  if (quality < SPEEX_RESAMPLER_QUALITY_MIN || quality > SPEEX_RESAMPLER_QUALITY_MAX) {
    throw std::invalid_argument("Resampler: the quality " + std::to_string(quality) + " is outside 0…10");
  }
  int error = RESAMPLER_ERR_SUCCESS;
  SpeexPtr state{speex_resampler_init(1, from_rate, to_rate, quality, &error)};
  if (!state || error != RESAMPLER_ERR_SUCCESS) {
    throw std::runtime_error(std::string("Resampler: ") + speex_resampler_strerror(error));
  }
  return state;
}

// Feeds all of `in` through `state`, appending to `out`. On an error `out` is as it was.
void run_speex(SpeexResamplerState* state, unsigned from_rate, unsigned to_rate, std::span<const std::int16_t> in,
               std::vector<std::int16_t>& out) {
  const std::size_t original = out.size();
  std::size_t consumed = 0;
  while (consumed < in.size()) {
    // speexdsp counts in 32 bits; big inputs go in slices.
    const auto slice = static_cast<spx_uint32_t>(std::min<std::size_t>(in.size() - consumed, 1U << 20U));
    // Room for the slice's share plus what the filter may still hold.
    const std::size_t room = static_cast<std::size_t>(slice) * to_rate / from_rate + 64;
    const std::size_t before = out.size();
    out.resize(before + room);
    spx_uint32_t in_len = slice;
    auto out_len = static_cast<spx_uint32_t>(room);
    const int error =
        speex_resampler_process_int(state, 0, in.data() + consumed, &in_len, out.data() + before, &out_len);
    out.resize(before + out_len);
    if (error != RESAMPLER_ERR_SUCCESS) {
      out.resize(original);
      throw std::runtime_error(std::string("Resampler: ") + speex_resampler_strerror(error));
    }
    if (in_len == 0 && out_len == 0) {
      break;  // no progress: never spin (speexdsp always consumes when there is room)
    }
    consumed += in_len;
  }
}

}  // namespace

struct Resampler::State {
  SpeexPtr speex;
  unsigned from_rate;
  unsigned to_rate;
};

Resampler::Resampler(unsigned from_rate, unsigned to_rate, int quality)
    : state_(std::make_unique<State>(State{make_speex(from_rate, to_rate, quality), from_rate, to_rate})) {}

Resampler::~Resampler() = default;
Resampler::Resampler(Resampler&&) noexcept = default;
Resampler& Resampler::operator=(Resampler&&) noexcept = default;

unsigned Resampler::from_rate() const noexcept { return state_ ? state_->from_rate : 0U; }
unsigned Resampler::to_rate() const noexcept { return state_ ? state_->to_rate : 0U; }

void Resampler::process(std::span<const std::int16_t> in, std::vector<std::int16_t>& out) {
  if (!state_) {
    throw std::logic_error("Resampler: used after a move");
  }
  run_speex(state_->speex.get(), state_->from_rate, state_->to_rate, in, out);
}

std::vector<std::int16_t> Resampler::process(std::span<const std::int16_t> in) {
  std::vector<std::int16_t> out;
  out.reserve(in.size() * to_rate() / std::max(from_rate(), 1U) + 64);
  process(in, out);
  return out;
}

void Resampler::reset() {
  if (state_) {
    speex_resampler_reset_mem(state_->speex.get());
  }
}

// Aligned with the input: speexdsp's leading delay is skipped (skip_zeros), its tail flushed with
// as many zeros as its input latency, and the result cut to exactly in × to / from (rounded).
std::vector<std::int16_t> resample(std::span<const std::int16_t> in, unsigned from_rate, unsigned to_rate) {
  const SpeexPtr speex = make_speex(from_rate, to_rate, 5);
  const std::size_t wanted = (in.size() * to_rate + from_rate / 2) / from_rate;
  std::vector<std::int16_t> out;
  if (in.empty()) {
    return out;
  }
  out.reserve(wanted + 64);
  speex_resampler_skip_zeros(speex.get());
  run_speex(speex.get(), from_rate, to_rate, in, out);
  const std::vector<std::int16_t> tail(
      static_cast<std::size_t>(std::max(speex_resampler_get_input_latency(speex.get()), 0)) + 1, 0);
  run_speex(speex.get(), from_rate, to_rate, tail, out);
  out.resize(wanted, 0);
  return out;
}

// ---- WAV files (libsndfile)

namespace {

struct SndfileCloser {
  void operator()(SNDFILE* file) const noexcept { sf_close(file); }
};
using SndfilePtr = std::unique_ptr<SNDFILE, SndfileCloser>;

[[noreturn]] void throw_sndfile(const std::string& what, const std::filesystem::path& path, SNDFILE* file) {
  // sf_strerror(nullptr) is the reason the last sf_open failed.
  throw std::runtime_error(what + " " + path.string() + ": " + sf_strerror(file));
}

SndfilePtr open_for_writing(const std::filesystem::path& path, unsigned sample_rate) {
  if (sample_rate == 0 || sample_rate > static_cast<unsigned>(INT_MAX)) {
    throw std::runtime_error("cannot write WAV file " + path.string() + ": bad sample rate " +
                             std::to_string(sample_rate));
  }
  SF_INFO info{};
  info.samplerate = static_cast<int>(sample_rate);
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SndfilePtr file{sf_open(path.c_str(), SFM_WRITE, &info)};
  if (!file) {
    throw_sndfile("cannot create WAV file", path, nullptr);
  }
  return file;
}

void write_all(SNDFILE* file, const std::filesystem::path& path, std::span<const std::int16_t> samples) {
  std::size_t done = 0;
  while (done < samples.size()) {
    const auto chunk = static_cast<sf_count_t>(std::min<std::size_t>(samples.size() - done, 1U << 20U));
    const sf_count_t written = sf_writef_short(file, samples.data() + done, chunk);
    if (written != chunk) {
      throw_sndfile("cannot write WAV file", path, file);
    }
    done += static_cast<std::size_t>(chunk);
  }
}

}  // namespace

Wav read_wav(const std::filesystem::path& path) {
  SF_INFO info{};
  const SndfilePtr file{sf_open(path.c_str(), SFM_READ, &info)};
  if (!file) {
    throw_sndfile("cannot read WAV file", path, nullptr);
  }
  if (info.channels < 1 || info.samplerate < 1) {
    throw std::runtime_error("cannot read WAV file " + path.string() + ": " + std::to_string(info.channels) +
                             " channels at " + std::to_string(info.samplerate) + " Hz");
  }
  Wav wav;
  wav.sample_rate = static_cast<unsigned>(info.samplerate);
  if (info.frames > 0) {
    // The header's count, trusted only up to a sane amount (a broken header may claim anything).
    wav.samples.reserve(static_cast<std::size_t>(std::min<sf_count_t>(info.frames, sf_count_t{1} << 24)));
  }
  // Read as doubles, which libsndfile normalises to ±1.0 for every encoding (an integer file is
  // divided by its full scale, exactly for 16-bit). Reading shorts from a float file would
  // instead truncate (0.5 → 0) or, with SFC_SET_SCALE_FLOAT_INT_READ, scale to the file's peak.
  const auto channels = static_cast<std::size_t>(info.channels);
  const auto chunk_frames = static_cast<sf_count_t>(std::max<std::size_t>(65536 / channels, 1));
  std::vector<double> buffer(static_cast<std::size_t>(chunk_frames) * channels);
  for (;;) {
    const sf_count_t frames = sf_readf_double(file.get(), buffer.data(), chunk_frames);
    if (frames <= 0) {
      break;
    }
    for (std::size_t frame = 0; frame < static_cast<std::size_t>(frames); ++frame) {
      // The mean of the channels, so a full-scale signal stays in range; beyond ±1.0 (float
      // files may) is clipped, not wrapped.
      double sum = 0.0;
      for (std::size_t channel = 0; channel < channels; ++channel) {
        sum += buffer[frame * channels + channel];
      }
      const double scaled = std::round(sum / static_cast<double>(channels) * 32768.0);
      wav.samples.push_back(static_cast<std::int16_t>(std::clamp(scaled, -32768.0, 32767.0)));
    }
  }
  if (sf_error(file.get()) != SF_ERR_NO_ERROR) {
    throw_sndfile("cannot read WAV file", path, file.get());
  }
  return wav;
}

void write_wav(const std::filesystem::path& path, unsigned sample_rate, std::span<const std::int16_t> samples) {
  SndfilePtr file = open_for_writing(path, sample_rate);
  write_all(file.get(), path, samples);
  if (sf_close(file.release()) != 0) {
    throw std::runtime_error("cannot close WAV file " + path.string());
  }
}

struct WavWriter::State {
  SndfilePtr file;
  std::filesystem::path path;
  std::size_t written{0};
};

WavWriter::WavWriter(const std::filesystem::path& path, unsigned sample_rate)
    : state_(std::make_unique<State>(State{open_for_writing(path, sample_rate), path, 0})) {
  // A complete header after every write: a process that dies leaves a playable file.
  sf_command(state_->file.get(), SFC_SET_UPDATE_HEADER_AUTO, nullptr, SF_TRUE);
}

WavWriter::~WavWriter() = default;
WavWriter::WavWriter(WavWriter&&) noexcept = default;
WavWriter& WavWriter::operator=(WavWriter&&) noexcept = default;

void WavWriter::write(std::span<const std::int16_t> samples) {
  if (!state_ || !state_->file) {
    throw std::runtime_error("cannot write WAV file " + (state_ ? state_->path.string() : std::string()) +
                             ": the writer is closed");
  }
  write_all(state_->file.get(), state_->path, samples);
  state_->written += samples.size();
}

std::size_t WavWriter::samples_written() const noexcept { return state_ ? state_->written : 0U; }

void WavWriter::close() {
  if (state_) {
    state_->file.reset();
  }
}

// ---- measurements

double level_dbfs(std::span<const std::int16_t> samples) noexcept {
  double energy = 0.0;
  for (const std::int16_t sample : samples) {
    energy += static_cast<double>(sample) * static_cast<double>(sample);
  }
  if (energy == 0.0) {
    return -std::numeric_limits<double>::infinity();
  }
  // 0 dBFS is the RMS of a full-scale square wave (32767), so a full-scale sine is -3.01 dBFS.
  const double rms = std::sqrt(energy / static_cast<double>(samples.size()));
  return 20.0 * std::log10(rms / 32767.0);
}

// spandsp's Goertzel: its descriptor takes the frequency relative to a fixed 8000 Hz
// (SAMPLE_RATE), so other rates scale the frequency. goertzel_result() is 2·|X(f)|² (its
// documentation: (N·A/√2)² for a sine of amplitude A), and the block's energy is Σx² = N·A²/2
// for that sine, so result / (N·Σx²) is 1 for a pure tone at f.
double tone_share(std::span<const std::int16_t> samples, unsigned sample_rate, double frequency_hz) noexcept {
  if (samples.empty() || samples.size() > static_cast<std::size_t>(INT_MAX) || sample_rate == 0 ||
      !(frequency_hz > 0.0) || frequency_hz >= sample_rate / 2.0) {
    return 0.0;
  }
  double energy = 0.0;
  for (const std::int16_t sample : samples) {
    energy += static_cast<double>(sample) * static_cast<double>(sample);
  }
  if (energy == 0.0) {
    return 0.0;
  }
  const int count = static_cast<int>(samples.size());
  goertzel_descriptor_t descriptor{};
  make_goertzel_descriptor(&descriptor, static_cast<float>(frequency_hz * SAMPLE_RATE / sample_rate), count);
  goertzel_state_t state{};
  goertzel_init(&state, &descriptor);
  goertzel_update(&state, samples.data(), count);
  const double result = goertzel_result(&state);
  return std::clamp(result / (static_cast<double>(count) * energy), 0.0, 1.0);
}

// ---- voice activity

namespace {

std::size_t samples_for(unsigned sample_rate, std::chrono::milliseconds duration) {
  const auto ms = std::max<std::chrono::milliseconds::rep>(duration.count(), 0);
  return static_cast<std::size_t>(sample_rate) * static_cast<std::size_t>(ms) / 1000U;
}

}  // namespace

EnergyVad::EnergyVad(unsigned sample_rate, VadOptions options) : sample_rate_(sample_rate), options_(options) {
  if (sample_rate_ == 0) {
    throw std::invalid_argument("EnergyVad: the sample rate is 0");
  }
}

std::optional<VadEvent> EnergyVad::push(std::span<const std::int16_t> samples) {
  if (samples.empty()) {
    return std::nullopt;
  }
  if (level_dbfs(samples) > options_.threshold_dbfs) {
    voiced_samples_ += samples.size();
    unvoiced_samples_ = 0;
    if (!speaking_ && voiced_samples_ >= samples_for(sample_rate_, options_.start_after)) {
      speaking_ = true;
      return VadEvent::speech_started;
    }
  } else {
    unvoiced_samples_ += samples.size();
    voiced_samples_ = 0;
    if (speaking_ && unvoiced_samples_ >= samples_for(sample_rate_, options_.stop_after)) {
      speaking_ = false;
      return VadEvent::speech_stopped;
    }
  }
  return std::nullopt;
}

void EnergyVad::reset() noexcept {
  speaking_ = false;
  voiced_samples_ = 0;
  unvoiced_samples_ = 0;
}

// ---- comfort noise (spandsp)

namespace {

struct NoiseDeleter {
  void operator()(noise_state_t* state) const noexcept { noise_free(state); }
};

// A fixed seed: the same noise every run (tests, recordings that compare).
constexpr int noise_seed = 19471;
// How many uniform random numbers spandsp sums per sample (4…20).
constexpr int noise_quality = 7;

}  // namespace

struct ComfortNoise::State {
  std::unique_ptr<noise_state_t, NoiseDeleter> generator;
};

// spandsp's dBov (ITU-T G.100.1) is our dBFS: 0 dBov is the power of a full-scale square wave,
// so noise_init_dbov takes the level as it is. (Its dBm0 is 6.16 dB higher: 0 dBm0 = -6.16
// dBFS here, i.e. 3.14 dB below a full-scale sine; noise_init_dbm0 would need that offset.)
ComfortNoise::ComfortNoise(double level_dbfs) : state_(std::make_unique<State>()) {
  if (std::isnan(level_dbfs)) {
    throw std::invalid_argument("ComfortNoise: the level is not a number");
  }
  const double level = std::clamp(level_dbfs, -100.0, 0.0);
  state_->generator.reset(
      noise_init_dbov(nullptr, noise_seed, static_cast<float>(level), NOISE_CLASS_HOTH, noise_quality));
  if (!state_->generator) {
    throw std::bad_alloc();
  }
}

ComfortNoise::~ComfortNoise() = default;
ComfortNoise::ComfortNoise(ComfortNoise&&) noexcept = default;
ComfortNoise& ComfortNoise::operator=(ComfortNoise&&) noexcept = default;

void ComfortNoise::fill(std::span<std::int16_t> out) noexcept {
  if (!state_) {
    std::fill(out.begin(), out.end(), std::int16_t{0});
    return;
  }
  for (std::int16_t& sample : out) {
    sample = noise(state_->generator.get());
  }
}

}  // namespace audio
}  // namespace astmrf::mrf
