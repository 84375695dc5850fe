// Audio helpers for applications that handle the call's audio themselves (MediaStream):
// G.711 μ-law and A-law ⇄ linear PCM, 8 ⇄ 16 kHz resampling, WAV files, signal level, a
// tone detector and a simple energy voice activity detector for barge-in.
//
// Samples are signed 16-bit linear PCM, mono, in host order. The codecs and the tone
// detector come from spandsp, the resampler from speexdsp, WAV files from libsndfile
// (docs/DEPENDENCIES.md); what is written here is the glue and the VAD's logic.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::mrf {

/// The audio format on the wire between Asterisk and the application (Asterisk's format name).
/// The application always reads and writes linear PCM at the format's sample rate.
enum class AudioFormat : std::uint8_t {
  slin16,  ///< signed linear 16 kHz (Asterisk `slin16`)
  slin,    ///< signed linear 8 kHz (Asterisk `slin`)
  ulaw,    ///< G.711 μ-law, 8 kHz
  alaw,    ///< G.711 A-law, 8 kHz
};
/// Asterisk's name of the format, e.g. "slin16".
std::string_view to_string(AudioFormat format) noexcept;
/// 16000 for slin16, else 8000.
[[nodiscard]] constexpr unsigned sample_rate(AudioFormat format) noexcept {
  return format == AudioFormat::slin16 ? 16000U : 8000U;
}
/// Samples in `duration` of audio in `format` (20 ms: 320 for slin16, 160 otherwise).
[[nodiscard]] constexpr std::size_t samples_in(AudioFormat format, std::chrono::milliseconds duration) noexcept {
  return static_cast<std::size_t>(sample_rate(format)) * static_cast<std::size_t>(duration.count()) / 1000U;
}

namespace audio {

// ---- G.711 (ITU-T G.711)

/// One sample to μ-law and back.
[[nodiscard]] std::uint8_t linear_to_ulaw(std::int16_t sample) noexcept;
[[nodiscard]] std::int16_t ulaw_to_linear(std::uint8_t code) noexcept;
/// One sample to A-law and back.
[[nodiscard]] std::uint8_t linear_to_alaw(std::int16_t sample) noexcept;
[[nodiscard]] std::int16_t alaw_to_linear(std::uint8_t code) noexcept;
/// Whole buffers; `out` must be as long as `in` (else std::invalid_argument).
void encode_ulaw(std::span<const std::int16_t> in, std::span<std::uint8_t> out);
void decode_ulaw(std::span<const std::uint8_t> in, std::span<std::int16_t> out);
void encode_alaw(std::span<const std::int16_t> in, std::span<std::uint8_t> out);
void decode_alaw(std::span<const std::uint8_t> in, std::span<std::int16_t> out);

// ---- resampling

/// A streaming sample rate converter (speexdsp): feed it buffers of any length, it keeps the
/// filter's state between them, so consecutive buffers join without clicks. One per stream
/// direction; not thread-safe.
class Resampler {
 public:
  /// From `from_rate` to `to_rate` Hz (8000 ≤ rate ≤ 48000; else std::invalid_argument) at
  /// speexdsp's `quality` 0 (fastest) … 10 (best); 5 is its VoIP default.
  Resampler(unsigned from_rate, unsigned to_rate, int quality = 5);
  ~Resampler();
  /// Takes over the filter's state.
  Resampler(Resampler&&) noexcept;
  /// Takes over the filter's state.
  Resampler& operator=(Resampler&&) noexcept;
  Resampler(const Resampler&) = delete;
  Resampler& operator=(const Resampler&) = delete;

  /// The input rate in Hz.
  [[nodiscard]] unsigned from_rate() const noexcept;
  /// The output rate in Hz.
  [[nodiscard]] unsigned to_rate() const noexcept;
  /// Converts `in`, appending the result to `out`. The filter delays the signal slightly
  /// (speexdsp's latency): what comes out is about in.size() × to/from samples.
  void process(std::span<const std::int16_t> in, std::vector<std::int16_t>& out);
  /// The same, returning the converted samples.
  [[nodiscard]] std::vector<std::int16_t> process(std::span<const std::int16_t> in);
  /// Forgets the state (a new, unrelated signal follows).
  void reset();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// One-shot conversion of a whole signal (a fresh Resampler).
[[nodiscard]] std::vector<std::int16_t> resample(std::span<const std::int16_t> in, unsigned from_rate,
                                                 unsigned to_rate);

// ---- WAV files (libsndfile)

/// A mono 16-bit PCM signal and its rate.
struct Wav {
  unsigned sample_rate{8000};           ///< in Hz
  std::vector<std::int16_t> samples{};  ///< mono, 16-bit linear
};

/// Reads a WAV file as mono 16-bit PCM: any PCM/float/G.711 WAV libsndfile reads; several
/// channels are mixed down. A missing or unreadable file throws std::runtime_error naming the
/// file and libsndfile's reason.
[[nodiscard]] Wav read_wav(const std::filesystem::path& path);
/// Writes `samples` as a mono 16-bit PCM WAV file (replacing it); std::runtime_error on failure.
void write_wav(const std::filesystem::path& path, unsigned sample_rate, std::span<const std::int16_t> samples);

/// A WAV file written as audio arrives (a recording): the header is made complete after every
/// write, so a process that dies leaves a playable file. Not thread-safe.
class WavWriter {
 public:
  /// Creates (replaces) `path` as mono 16-bit PCM at `sample_rate`; std::runtime_error on failure.
  WavWriter(const std::filesystem::path& path, unsigned sample_rate);
  ~WavWriter();
  /// Takes over the open file.
  WavWriter(WavWriter&&) noexcept;
  /// Closes the current file and takes over `other`'s.
  WavWriter& operator=(WavWriter&&) noexcept;
  WavWriter(const WavWriter&) = delete;
  WavWriter& operator=(const WavWriter&) = delete;

  /// Appends samples; std::runtime_error if the file cannot be written.
  void write(std::span<const std::int16_t> samples);
  /// Samples written so far.
  [[nodiscard]] std::size_t samples_written() const noexcept;
  /// Closes the file (the destructor does it too). Idempotent.
  void close();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ---- measurements

/// The mean level of `samples` in dBFS (0 dBFS: a full-scale square wave; -infinity for digital
/// silence or no samples).
[[nodiscard]] double level_dbfs(std::span<const std::int16_t> samples) noexcept;
/// The share (0…1) of the power of `samples` that lies at `frequency_hz` (a Goertzel filter over
/// the whole block): near 1 for a pure tone there, near 0 for silence or other tones.
[[nodiscard]] double tone_share(std::span<const std::int16_t> samples, unsigned sample_rate,
                                double frequency_hz) noexcept;

// ---- voice activity

/// Options of EnergyVad.
struct VadOptions {
  /// A frame louder than this is voiced.
  double threshold_dbfs{-40.0};
  /// Voiced audio this long in a row starts speech (filters clicks).
  std::chrono::milliseconds start_after{std::chrono::milliseconds(60)};
  /// Unvoiced audio this long in a row ends speech (the pauses between words do not).
  std::chrono::milliseconds stop_after{std::chrono::milliseconds(500)};
};

/// What a block of audio changed.
enum class VadEvent : std::uint8_t {
  speech_started,
  speech_stopped,
};

/// A simple energy voice activity detector for barge-in: push the caller's frames in order;
/// it reports when speech starts and stops. Cheap (one level per frame), not a speech model.
class EnergyVad {
 public:
  /// For audio at `sample_rate` Hz.
  explicit EnergyVad(unsigned sample_rate, VadOptions options = {});
  /// Feeds the next block of audio (any length, typically one 20 ms frame); returns a change,
  /// if this block made one.
  std::optional<VadEvent> push(std::span<const std::int16_t> samples);
  /// Whether speech is going on.
  [[nodiscard]] bool speaking() const noexcept { return speaking_; }
  /// Back to silence, counters cleared.
  void reset() noexcept;

 private:
  unsigned sample_rate_;
  VadOptions options_;
  bool speaking_{false};
  std::size_t voiced_samples_{0};
  std::size_t unvoiced_samples_{0};
};

// ---- comfort noise

/// Low-level noise (spandsp's Hoth-shaped generator) to fill gaps in an outgoing stream so the
/// line does not sound dead; -65 dBFS is about what phones send.
class ComfortNoise {
 public:
  /// Noise at `level_dbfs` (-100…0; std::invalid_argument otherwise).
  explicit ComfortNoise(double level_dbfs = -65.0);
  ~ComfortNoise();
  /// Takes over the generator.
  ComfortNoise(ComfortNoise&&) noexcept;
  /// Takes over the generator.
  ComfortNoise& operator=(ComfortNoise&&) noexcept;
  ComfortNoise(const ComfortNoise&) = delete;
  ComfortNoise& operator=(const ComfortNoise&) = delete;
  /// Fills `out` with the next samples of noise.
  void fill(std::span<std::int16_t> out) noexcept;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace audio
}  // namespace astmrf::mrf
