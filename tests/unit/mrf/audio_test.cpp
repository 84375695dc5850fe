// The audio helpers of MediaStream users (issue 19): G.711, resampling, WAV files, levels, the
// Goertzel tone share, the energy VAD and comfort noise. Pure computation and temporary files.
#include <astmrf/mrf/audio.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include <sndfile.h>
#include <unistd.h>

namespace astmrf::mrf::audio {
namespace {

using std::chrono::milliseconds;

std::vector<std::int16_t> sine(unsigned rate, double frequency, double amplitude, std::size_t count,
                               std::size_t phase_offset = 0) {
  std::vector<std::int16_t> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    const double t = static_cast<double>(i + phase_offset) / rate;
    out[i] = static_cast<std::int16_t>(std::lround(amplitude * std::sin(2.0 * std::numbers::pi * frequency * t)));
  }
  return out;
}

std::vector<std::int16_t> mix(const std::vector<std::int16_t>& a, const std::vector<std::int16_t>& b) {
  std::vector<std::int16_t> out(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    out[i] = static_cast<std::int16_t>(a[i] + b[i]);
  }
  return out;
}

// The largest step between neighbouring samples in [begin, end).
int max_step(const std::vector<std::int16_t>& samples, std::size_t begin, std::size_t end) {
  int largest = 0;
  for (std::size_t i = begin + 1; i < end; ++i) {
    largest = std::max(largest, std::abs(samples[i] - samples[i - 1]));
  }
  return largest;
}

std::span<const std::int16_t> middle(const std::vector<std::int16_t>& samples, std::size_t trim) {
  return std::span<const std::int16_t>(samples).subspan(trim, samples.size() - 2 * trim);
}

// ---- formats

TEST(AudioFormatTest, NamesAndRates) {
  EXPECT_EQ(to_string(AudioFormat::slin16), "slin16");
  EXPECT_EQ(to_string(AudioFormat::slin), "slin");
  EXPECT_EQ(to_string(AudioFormat::ulaw), "ulaw");
  EXPECT_EQ(to_string(AudioFormat::alaw), "alaw");
  EXPECT_EQ(samples_in(AudioFormat::slin16, milliseconds(20)), 320U);
  EXPECT_EQ(samples_in(AudioFormat::alaw, milliseconds(20)), 160U);
}

// ---- G.711

TEST(AudioG711Test, KnownCodePoints) {
  EXPECT_EQ(linear_to_ulaw(0), 0xFF);
  EXPECT_EQ(ulaw_to_linear(0xFF), 0);
  EXPECT_EQ(ulaw_to_linear(0x7F), 0);  // μ-law's "negative zero"
  EXPECT_EQ(linear_to_ulaw(32767), 0x80);
  EXPECT_EQ(ulaw_to_linear(0x80), 32124);
  EXPECT_EQ(ulaw_to_linear(0x00), -32124);
  EXPECT_EQ(linear_to_alaw(0), 0xD5);
  EXPECT_EQ(alaw_to_linear(0xD5), 8);  // A-law has no zero: the smallest step is ±8
  EXPECT_EQ(alaw_to_linear(0x55), -8);
  EXPECT_EQ(linear_to_alaw(32767), 0xAA);
  EXPECT_EQ(alaw_to_linear(0xAA), 32256);
  EXPECT_EQ(linear_to_alaw(-32768), 0x2A);
  EXPECT_EQ(alaw_to_linear(0x2A), -32256);
}

TEST(AudioG711Test, EveryCodeRoundTrips) {
  for (int code = 0; code < 256; ++code) {
    const auto c = static_cast<std::uint8_t>(code);
    if (c != 0x7F) {  // decodes to 0, which encodes as 0xFF
      EXPECT_EQ(linear_to_ulaw(ulaw_to_linear(c)), c) << "μ-law " << code;
    }
    EXPECT_EQ(linear_to_alaw(alaw_to_linear(c)), c) << "A-law " << code;
  }
}

TEST(AudioG711Test, LinearRoundTripErrorIsWithinTheQuantisationStep) {
  for (int x = -32768; x <= 32767; ++x) {
    const auto sample = static_cast<std::int16_t>(x);
    const double bound =
        std::max(16.0, std::abs(x) * 0.07);  // 4 mantissa bits: ≤ 1/32 of |x|, clipping near full scale
    ASSERT_LE(std::abs(ulaw_to_linear(linear_to_ulaw(sample)) - x), bound) << x;
    ASSERT_LE(std::abs(alaw_to_linear(linear_to_alaw(sample)) - x), bound) << x;
  }
}

TEST(AudioG711Test, BuffersMatchSingleSamples) {
  const auto signal = sine(8000, 440.0, 20000.0, 160);
  std::vector<std::uint8_t> ulaw(signal.size());
  std::vector<std::uint8_t> alaw(signal.size());
  encode_ulaw(signal, ulaw);
  encode_alaw(signal, alaw);
  std::vector<std::int16_t> from_ulaw(signal.size());
  std::vector<std::int16_t> from_alaw(signal.size());
  decode_ulaw(ulaw, from_ulaw);
  decode_alaw(alaw, from_alaw);
  for (std::size_t i = 0; i < signal.size(); ++i) {
    EXPECT_EQ(ulaw[i], linear_to_ulaw(signal[i]));
    EXPECT_EQ(alaw[i], linear_to_alaw(signal[i]));
    EXPECT_EQ(from_ulaw[i], ulaw_to_linear(ulaw[i]));
    EXPECT_EQ(from_alaw[i], alaw_to_linear(alaw[i]));
  }
  // G.711 keeps a tone's level within a fraction of a dB.
  EXPECT_NEAR(level_dbfs(from_ulaw), level_dbfs(signal), 0.2);
  EXPECT_NEAR(level_dbfs(from_alaw), level_dbfs(signal), 0.2);
}

TEST(AudioG711Test, BufferLengthMismatchThrows) {
  const std::vector<std::int16_t> linear(160);
  std::vector<std::uint8_t> short_codes(159);
  std::vector<std::int16_t> long_linear(161);
  const std::vector<std::uint8_t> codes(160);
  EXPECT_THROW(encode_ulaw(linear, short_codes), std::invalid_argument);
  EXPECT_THROW(encode_alaw(linear, short_codes), std::invalid_argument);
  EXPECT_THROW(decode_ulaw(codes, long_linear), std::invalid_argument);
  EXPECT_THROW(decode_alaw(codes, long_linear), std::invalid_argument);
  std::vector<std::uint8_t> none;
  EXPECT_NO_THROW(encode_ulaw({}, none));
}

// ---- resampling

TEST(AudioResamplerTest, RejectsRatesAndQualitiesOutOfRange) {
  EXPECT_THROW(Resampler(7999, 8000), std::invalid_argument);
  EXPECT_THROW(Resampler(8000, 48001), std::invalid_argument);
  EXPECT_THROW(Resampler(8000, 16000, -1), std::invalid_argument);
  EXPECT_THROW(Resampler(8000, 16000, 11), std::invalid_argument);
  EXPECT_THROW((void)resample({}, 8000, 96000), std::invalid_argument);
  const Resampler ok(48000, 8000, 10);
  EXPECT_EQ(ok.from_rate(), 48000U);
  EXPECT_EQ(ok.to_rate(), 8000U);
}

TEST(AudioResamplerTest, OneShotKeepsAToneBothWays) {
  for (const auto& [from, to] : {std::pair{8000U, 16000U}, std::pair{16000U, 8000U}}) {
    SCOPED_TRACE(std::to_string(from) + " → " + std::to_string(to));
    const auto in = sine(from, 1000.0, 10000.0, from);  // one second
    const auto out = resample(in, from, to);
    EXPECT_NEAR(static_cast<double>(out.size()), static_cast<double>(to), 2.0);
    const auto steady = middle(out, to / 100);  // away from the edges
    EXPECT_GT(tone_share(steady, to, 1000.0), 0.9);
    EXPECT_NEAR(level_dbfs(steady), level_dbfs(in), 0.5);
  }
  EXPECT_TRUE(resample({}, 8000, 16000).empty());
}

TEST(AudioResamplerTest, OneShotIsAlignedWithTheInput) {
  // skip_zeros + flushed tail: output sample k sits at input time k × from / to.
  const auto in = sine(8000, 1000.0, 10000.0, 8000);
  const auto out = resample(in, 8000, 16000);
  const auto expected = sine(16000, 1000.0, 10000.0, 16000);
  int worst = 0;
  for (std::size_t i = 400; i < 15600; ++i) {
    worst = std::max(worst, std::abs(out[i] - expected[i]));
  }
  EXPECT_LT(worst, 500);  // 5 % of the amplitude: no delay (a one-sample delay would be ~4000)
}

TEST(AudioResamplerTest, StreamingIn20MsChunksMatchesOneShotWithoutClicks) {
  for (const auto& [from, to] : {std::pair{8000U, 16000U}, std::pair{16000U, 8000U}}) {
    SCOPED_TRACE(std::to_string(from) + " → " + std::to_string(to));
    const auto in = sine(from, 1000.0, 10000.0, from);
    Resampler streaming(from, to);
    std::vector<std::int16_t> streamed;
    const std::size_t chunk = from / 50;
    for (std::size_t at = 0; at < in.size(); at += chunk) {
      const auto piece = streaming.process(std::span<const std::int16_t>(in).subspan(at, chunk));
      streamed.insert(streamed.end(), piece.begin(), piece.end());
    }
    // in × to / from samples come out; the filter's latency shows as a few ms of lead-in
    // before the tone, not as missing samples.
    EXPECT_NEAR(static_cast<double>(streamed.size()), static_cast<double>(to), 2.0);

    // The same samples as one call on the whole signal.
    Resampler whole(from, to);
    const auto at_once = whole.process(in);
    ASSERT_EQ(at_once.size(), streamed.size());
    int worst = 0;
    for (std::size_t i = 0; i < streamed.size(); ++i) {
      worst = std::max(worst, std::abs(streamed[i] - at_once[i]));
    }
    EXPECT_LE(worst, 1);

    // And the one-shot helper's signal, delayed by the latency.
    const auto one_shot = resample(in, from, to);
    double best = 1e18;
    for (std::size_t lag = 0; lag < 100; ++lag) {
      double error = 0;
      for (std::size_t i = to / 10; i < to / 10 * 9; ++i) {
        const double d = streamed[i] - one_shot[i - lag];
        error += d * d;
      }
      best = std::min(best, std::sqrt(error / (to * 0.8)));
    }
    EXPECT_LT(best, 100.0);  // RMS difference < 1 % of the amplitude at the best lag

    // No discontinuity at the chunk joins: no step beyond a 1 kHz sine's steepest slope.
    const double slope = 10000.0 * 2.0 * std::numbers::pi * 1000.0 / to;
    EXPECT_LE(max_step(streamed, to / 50, streamed.size() - to / 100), slope * 1.05);
  }
}

TEST(AudioResamplerTest, DownsamplingRemovesToneAboveTheNewNyquist) {
  // 7 kHz at 16 kHz would fold to 1 kHz at 8 kHz without the anti-aliasing filter.
  const auto in = sine(16000, 7000.0, 10000.0, 16000);
  const auto out = resample(in, 16000, 8000);
  const auto steady = middle(out, 80);
  const double level = level_dbfs(steady);
  EXPECT_LT(level, level_dbfs(in) - 40.0);
  // The power at the alias, in dB relative to the input: the folded tone is gone.
  const double alias = level + 10.0 * std::log10(std::max(tone_share(steady, 8000, 1000.0), 1e-12));
  EXPECT_LT(alias, level_dbfs(in) - 40.0);
  // While a 3 kHz tone, below the new Nyquist, passes.
  const auto passes = resample(sine(16000, 3000.0, 10000.0, 16000), 16000, 8000);
  EXPECT_GT(tone_share(middle(passes, 80), 8000, 3000.0), 0.9);
}

TEST(AudioResamplerTest, ResetForgetsThePreviousSignalAndMovesKeepTheState) {
  Resampler resampler(8000, 16000);
  (void)resampler.process(sine(8000, 1000.0, 10000.0, 160));
  resampler.reset();
  const auto after = resampler.process(std::vector<std::int16_t>(160, 0));
  EXPECT_TRUE(std::all_of(after.begin(), after.end(), [](std::int16_t s) { return s == 0; }));

  Resampler moved = std::move(resampler);
  EXPECT_EQ(moved.from_rate(), 8000U);
  std::vector<std::int16_t> out;
  moved.process(sine(8000, 1000.0, 10000.0, 160), out);
  EXPECT_FALSE(out.empty());
}

// ---- WAV files

class AudioWavTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() / ("astmrf-audio-" + std::to_string(::getpid()) + "-" + info->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
};

TEST_F(AudioWavTest, WriteThenReadRoundTrips) {
  for (const unsigned rate : {8000U, 16000U}) {
    const auto path = dir_ / ("tone-" + std::to_string(rate) + ".wav");
    const auto signal = sine(rate, 440.0, 12000.0, rate / 2);
    write_wav(path, rate, signal);
    const Wav wav = read_wav(path);
    EXPECT_EQ(wav.sample_rate, rate);
    EXPECT_EQ(wav.samples, signal);
  }
  // Replacing a file, and an empty one.
  const auto path = dir_ / "tone-8000.wav";
  write_wav(path, 8000, {});
  const Wav empty = read_wav(path);
  EXPECT_EQ(empty.sample_rate, 8000U);
  EXPECT_TRUE(empty.samples.empty());
}

TEST_F(AudioWavTest, StereoIsMixedDownAndFloatIsScaled) {
  const auto stereo = dir_ / "stereo.wav";
  {
    SF_INFO info{};
    info.samplerate = 16000;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* file = sf_open(stereo.c_str(), SFM_WRITE, &info);
    ASSERT_NE(file, nullptr) << sf_strerror(nullptr);
    const std::vector<short> frames{1000, 3000, -200, 200, 32767, 32767, -32768, -32768, 0, 101};
    ASSERT_EQ(sf_writef_short(file, frames.data(), 5), 5);
    sf_close(file);
  }
  const Wav mixed = read_wav(stereo);
  EXPECT_EQ(mixed.sample_rate, 16000U);
  EXPECT_EQ(mixed.samples, (std::vector<std::int16_t>{2000, 0, 32767, -32768, 51}));

  const auto floats = dir_ / "float.wav";
  {
    SF_INFO info{};
    info.samplerate = 8000;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_FLOAT;
    SNDFILE* file = sf_open(floats.c_str(), SFM_WRITE, &info);
    ASSERT_NE(file, nullptr) << sf_strerror(nullptr);
    const std::vector<float> samples{0.5F, -0.5F, 0.0F, 2.0F};
    ASSERT_EQ(sf_writef_float(file, samples.data(), 4), 4);
    sf_close(file);
  }
  const Wav scaled = read_wav(floats);
  ASSERT_EQ(scaled.samples.size(), 4U);
  EXPECT_NEAR(scaled.samples[0], 16384, 2);
  EXPECT_NEAR(scaled.samples[1], -16384, 2);
  EXPECT_EQ(scaled.samples[2], 0);
  EXPECT_EQ(scaled.samples[3], 32767);  // clipped, not wrapped
}

TEST_F(AudioWavTest, ErrorsNameTheFile) {
  const auto missing = dir_ / "no-such-file.wav";
  try {
    (void)read_wav(missing);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(missing.string()), std::string::npos) << e.what();
  }
  const auto text = dir_ / "not-audio.wav";
  std::ofstream(text) << "this is not a WAV file, just some text that is long enough\n";
  try {
    (void)read_wav(text);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(text.string()), std::string::npos) << e.what();
  }
  const auto nowhere = dir_ / "missing-dir" / "out.wav";
  try {
    write_wav(nowhere, 8000, std::vector<std::int16_t>(10));
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(nowhere.string()), std::string::npos) << e.what();
  }
  EXPECT_THROW(WavWriter(nowhere, 8000), std::runtime_error);
}

TEST_F(AudioWavTest, WavWriterFileIsCompleteWhileOpen) {
  const auto path = dir_ / "recording.wav";
  const auto first = sine(8000, 440.0, 8000.0, 1600);
  const auto second = sine(8000, 880.0, 8000.0, 1600);
  WavWriter writer(path, 8000);
  EXPECT_EQ(read_wav(path).samples.size(), 0U);  // a valid, empty file from the start
  writer.write(first);
  const Wav partial = read_wav(path);  // still open: the header already counts the samples
  EXPECT_EQ(partial.sample_rate, 8000U);
  EXPECT_EQ(partial.samples, first);
  writer.write(second);
  EXPECT_EQ(read_wav(path).samples.size(), 3200U);
  EXPECT_EQ(writer.samples_written(), 3200U);

  WavWriter moved = std::move(writer);
  moved.write(first);
  moved.close();
  moved.close();  // idempotent
  EXPECT_EQ(moved.samples_written(), 4800U);
  EXPECT_THROW(moved.write(first), std::runtime_error);
  auto all = first;
  all.insert(all.end(), second.begin(), second.end());
  all.insert(all.end(), first.begin(), first.end());
  EXPECT_EQ(read_wav(path).samples, all);
}

// ---- measurements

TEST(AudioLevelTest, KnownSignals) {
  std::vector<std::int16_t> square(160);
  for (std::size_t i = 0; i < square.size(); ++i) {
    square[i] = (i % 2 == 0) ? 32767 : -32767;
  }
  EXPECT_NEAR(level_dbfs(square), 0.0, 0.001);
  std::vector<std::int16_t> half(square.size());
  std::transform(square.begin(), square.end(), half.begin(),
                 [](std::int16_t s) { return static_cast<std::int16_t>(s / 2); });
  EXPECT_NEAR(level_dbfs(half), -6.02, 0.01);
  EXPECT_NEAR(level_dbfs(sine(8000, 1000.0, 32767.0, 8000)), -3.01, 0.01);
  EXPECT_NEAR(level_dbfs(sine(8000, 1000.0, 32767.0 / 100.0, 8000)), -43.01, 0.05);
  EXPECT_EQ(level_dbfs(std::vector<std::int16_t>(160, 0)), -std::numeric_limits<double>::infinity());
  EXPECT_EQ(level_dbfs({}), -std::numeric_limits<double>::infinity());
}

TEST(AudioToneShareTest, PureToneTwoTonesOtherToneAndSilence) {
  for (const unsigned rate : {8000U, 16000U}) {
    SCOPED_TRACE(rate);
    const std::size_t frame = rate / 50;  // 20 ms
    EXPECT_GT(tone_share(sine(rate, 1000.0, 10000.0, frame), rate, 1000.0), 0.95);
    EXPECT_GT(tone_share(sine(rate, 697.0, 3000.0, frame), rate, 697.0), 0.95);  // not a whole number of cycles
    const auto two = mix(sine(rate, 1000.0, 8000.0, frame), sine(rate, 1500.0, 8000.0, frame));
    EXPECT_NEAR(tone_share(two, rate, 1000.0), 0.5, 0.1);
    EXPECT_NEAR(tone_share(two, rate, 1500.0), 0.5, 0.1);
    EXPECT_LT(tone_share(sine(rate, 2000.0, 10000.0, frame), rate, 1000.0), 0.02);
    EXPECT_EQ(tone_share(std::vector<std::int16_t>(frame, 0), rate, 1000.0), 0.0);
  }
  // A long block: the float filter stays accurate.
  EXPECT_GT(tone_share(sine(48000, 1000.0, 30000.0, 48000), 48000, 1000.0), 0.99);
  // Noise spreads its power: little at any one frequency.
  ComfortNoise noise(-30.0);
  std::vector<std::int16_t> hiss(8000);
  noise.fill(hiss);
  EXPECT_LT(tone_share(hiss, 8000, 1000.0), 0.05);
  // Meaningless requests.
  const auto tone = sine(8000, 1000.0, 10000.0, 160);
  EXPECT_EQ(tone_share(tone, 8000, 0.0), 0.0);
  EXPECT_EQ(tone_share(tone, 8000, 4000.0), 0.0);
  EXPECT_EQ(tone_share(tone, 0, 1000.0), 0.0);
  EXPECT_EQ(tone_share({}, 8000, 1000.0), 0.0);
}

// ---- voice activity

class AudioVadTest : public ::testing::Test {
 protected:
  // 20 ms frames at 8 kHz: a -20 dBFS tone (voiced) or silence.
  const std::vector<std::int16_t> voice_ = sine(8000, 300.0, 32767.0 * 0.1 * std::numbers::sqrt2, 160);
  const std::vector<std::int16_t> quiet_ = sine(8000, 300.0, 32767.0 * 0.003, 160);  // ≈ -53 dBFS
  const std::vector<std::int16_t> silence_ = std::vector<std::int16_t>(160, 0);

  // Pushes `count` frames; returns the index of the frame that made an event (or -1) and the event.
  static std::pair<int, std::optional<VadEvent>> feed(EnergyVad& vad, const std::vector<std::int16_t>& frame,
                                                      int count) {
    for (int i = 0; i < count; ++i) {
      if (auto event = vad.push(frame)) {
        return {i, event};
      }
    }
    return {-1, std::nullopt};
  }
};

TEST_F(AudioVadTest, ClicksShorterThanStartAfterDoNotStartSpeech) {
  EnergyVad vad(8000);  // start after 60 ms = 3 frames, stop after 500 ms = 25 frames
  for (int round = 0; round < 5; ++round) {
    EXPECT_EQ(feed(vad, voice_, 2).first, -1);
    EXPECT_EQ(feed(vad, silence_, 1).first, -1);
  }
  EXPECT_FALSE(vad.speaking());
  EXPECT_EQ(feed(vad, quiet_, 50).first, -1);  // below the -40 dBFS threshold
  EXPECT_FALSE(vad.speaking());
}

TEST_F(AudioVadTest, SpeechStartsAfterStartAfterAndSurvivesShortPauses) {
  EnergyVad vad(8000);
  const auto started = feed(vad, voice_, 10);
  EXPECT_EQ(started.first, 2);  // the third frame completes 60 ms
  EXPECT_EQ(started.second, VadEvent::speech_started);
  EXPECT_TRUE(vad.speaking());
  EXPECT_EQ(feed(vad, voice_, 10).first, -1);  // no second start

  EXPECT_EQ(feed(vad, silence_, 24).first, -1);  // 480 ms: a pause between words
  EXPECT_TRUE(vad.speaking());
  EXPECT_EQ(feed(vad, voice_, 1).first, -1);  // the pause counter starts over
  const auto stopped = feed(vad, quiet_, 30);
  EXPECT_EQ(stopped.first, 24);  // the 25th unvoiced frame completes 500 ms
  EXPECT_EQ(stopped.second, VadEvent::speech_stopped);
  EXPECT_FALSE(vad.speaking());
}

TEST_F(AudioVadTest, CountsSamplesNotFramesAndResets) {
  EnergyVad vad(16000, VadOptions{-30.0, milliseconds(30), milliseconds(100)});
  const auto voice10 = sine(16000, 300.0, 10000.0, 160);  // 10 ms at 16 kHz, about -13 dBFS
  const auto started = feed(vad, voice10, 10);
  EXPECT_EQ(started.first, 2);
  EXPECT_EQ(started.second, VadEvent::speech_started);
  vad.reset();
  EXPECT_FALSE(vad.speaking());
  EXPECT_EQ(feed(vad, voice10, 2).first, -1);  // counters cleared: 3 blocks needed again
  EXPECT_EQ(vad.push(voice10), VadEvent::speech_started);
  EXPECT_EQ(vad.push({}), std::nullopt);
  EXPECT_EQ(feed(vad, std::vector<std::int16_t>(800, 0), 3).first, 1);  // 50 ms blocks: the 2nd reaches 100 ms
  EXPECT_THROW(EnergyVad(0), std::invalid_argument);
}

// ---- comfort noise

TEST(AudioComfortNoiseTest, LevelIsNearTheRequestAndNotSilent) {
  for (const double requested : {-65.0, -50.0, -30.0}) {
    SCOPED_TRACE(requested);
    ComfortNoise noise(requested);
    std::vector<std::int16_t> out(16000);
    noise.fill(out);
    EXPECT_NEAR(level_dbfs(out), requested, 3.0);
    const auto nonzero = std::count_if(out.begin(), out.end(), [](std::int16_t s) { return s != 0; });
    EXPECT_GT(nonzero, 16000 / 2);
    // Successive fills continue the noise at the same level.
    noise.fill(std::span<std::int16_t>(out).first(160));
    EXPECT_NEAR(level_dbfs(std::span<const std::int16_t>(out).first(160)), requested, 6.0);
  }
  // A fixed seed: the same noise every time.
  ComfortNoise a;
  ComfortNoise b;
  std::vector<std::int16_t> first(320);
  std::vector<std::int16_t> second(320);
  a.fill(first);
  b.fill(second);
  EXPECT_EQ(first, second);
  EXPECT_THROW(ComfortNoise(std::nan("")), std::invalid_argument);
}

}  // namespace
}  // namespace astmrf::mrf::audio
