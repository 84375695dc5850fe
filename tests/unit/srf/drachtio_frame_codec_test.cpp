// The drachtio framing against every captured transcript: each frame decodes and
// re-encodes to the same bytes, whole streams decode in any chunking, and broken
// streams fail with a clear error.
#include "frame_codec.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace {

namespace wire = astmrf::srf::drachtio::wire;
namespace fs = std::filesystem;

struct Captured {
  std::string dir;
  std::string frame;
};

std::vector<Captured> load(const fs::path& file) {
  std::vector<Captured> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto object = boost::json::parse(line).as_object();
    out.push_back({std::string(object.at("dir").as_string()), std::string(object.at("frame").as_string())});
  }
  return out;
}

std::vector<fs::path> fixture_files() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fs::path(ASTMRF_DRACHTIO_FIXTURES_DIR) / "jsonl")) {
    if (entry.path().extension() == ".jsonl") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TEST(DrachtioFrameCodec, FixturesArePresent) { EXPECT_GE(fixture_files().size(), 20U); }

TEST(DrachtioFrameCodec, EveryFixtureFrameRoundTripsByteExact) {
  std::size_t frames = 0;
  for (const auto& file : fixture_files()) {
    for (const auto& captured : load(file)) {
      wire::FrameDecoder decoder;
      decoder.feed(captured.frame);
      wire::Frame frame;
      ASSERT_EQ(decoder.next(frame), wire::FrameDecoder::Status::frame) << file << ": " << decoder.error();
      EXPECT_EQ(decoder.buffered(), 0U);
      EXPECT_EQ(wire::encode(frame), captured.frame) << file;
      EXPECT_EQ(frame.id().size(), 36U) << file << ": every msgId is a UUID";
      ++frames;
    }
  }
  EXPECT_GE(frames, 187U);  // every frame of the 20 transcripts
}

TEST(DrachtioFrameCodec, FieldsAsObserved) {
  wire::Frame auth = wire::decode_payload("ed10b54e-862f-43d9-bd68-a5d865a072dd|authenticate|cymru|");
  ASSERT_EQ(auth.fields.size(), 4U);
  EXPECT_EQ(auth.type(), "authenticate");
  EXPECT_EQ(auth.field(2), "cymru");
  EXPECT_EQ(auth.field(3), "");
  EXPECT_FALSE(auth.has_sip);

  wire::Frame bye = wire::decode_payload("id|sip||1-31595@127.0.0.1;from-tag=x\r\nBYE sip:placeholder SIP/2.0\r\n\r\n");
  ASSERT_EQ(bye.fields.size(), 4U);
  EXPECT_EQ(bye.field(2), "");
  EXPECT_EQ(bye.field(3), "1-31595@127.0.0.1;from-tag=x");
  EXPECT_TRUE(bye.has_sip);
  EXPECT_EQ(bye.sip, "BYE sip:placeholder SIP/2.0\r\n\r\n");
}

// Each direction of each transcript as one TCP stream, cut into every chunk size
// from 1 byte up: the decoder yields the same frames in the same order.
TEST(DrachtioFrameCodec, StreamsDecodeInAnyChunking) {
  for (const auto& file : fixture_files()) {
    const auto captured = load(file);
    for (const std::string dir : {"app->server", "server->app"}) {
      std::string stream;
      std::vector<std::string> expected;
      for (const auto& c : captured) {
        if (c.dir != dir) continue;
        stream += c.frame;
        expected.push_back(c.frame);
      }
      for (std::size_t chunk :
           {std::size_t{1}, std::size_t{3}, std::size_t{64}, std::size_t{1000}, stream.size() + 1}) {
        wire::FrameDecoder decoder;
        std::vector<std::string> got;
        for (std::size_t at = 0; at < stream.size(); at += chunk) {
          decoder.feed(std::string_view(stream).substr(at, chunk));
          wire::Frame frame;
          while (true) {
            auto status = decoder.next(frame);
            ASSERT_NE(status, wire::FrameDecoder::Status::error) << decoder.error();
            if (status == wire::FrameDecoder::Status::need_more) break;
            got.push_back(wire::encode(frame));
          }
        }
        EXPECT_EQ(got, expected) << file << " " << dir << " chunk " << chunk;
        EXPECT_EQ(decoder.buffered(), 0U);
      }
    }
  }
}

wire::FrameDecoder::Status decode_one(const std::string& bytes, std::string& error, std::size_t limit = 1024) {
  wire::FrameDecoder decoder(limit);
  decoder.feed(bytes);
  wire::Frame frame;
  auto status = decoder.next(frame);
  error = decoder.error();
  return status;
}

TEST(DrachtioFrameCodec, NonNumericPrefixIsAnError) {
  std::string error;
  EXPECT_EQ(decode_one("4x#abcd", error), wire::FrameDecoder::Status::error);
  EXPECT_NE(error.find("length prefix"), std::string::npos) << error;
  EXPECT_EQ(decode_one("GET / HTTP/1.1\r\n", error), wire::FrameDecoder::Status::error);
  EXPECT_EQ(decode_one("-5#abcde", error), wire::FrameDecoder::Status::error);
}

TEST(DrachtioFrameCodec, MissingOrZeroLengthIsAnError) {
  std::string error;
  EXPECT_EQ(decode_one("#abc", error), wire::FrameDecoder::Status::error);
  EXPECT_NE(error.find("without a length"), std::string::npos) << error;
  EXPECT_EQ(decode_one("0#", error), wire::FrameDecoder::Status::error);
  EXPECT_NE(error.find("empty"), std::string::npos) << error;
}

TEST(DrachtioFrameCodec, OversizedFrameIsRefusedBeforeItArrives) {
  std::string error;
  EXPECT_EQ(decode_one("1025#", error, 1024), wire::FrameDecoder::Status::error);
  EXPECT_NE(error.find("exceeds the limit"), std::string::npos) << error;
  // Endless digits fail as soon as they cannot be a valid length any more.
  EXPECT_EQ(decode_one("99999", error, 1024), wire::FrameDecoder::Status::error);
  EXPECT_NE(error.find("too long"), std::string::npos) << error;
  EXPECT_EQ(decode_one("1024#", error, 1024), wire::FrameDecoder::Status::need_more);
}

TEST(DrachtioFrameCodec, ErrorIsSticky) {
  wire::FrameDecoder decoder;
  decoder.feed("x#");
  wire::Frame frame;
  EXPECT_EQ(decoder.next(frame), wire::FrameDecoder::Status::error);
  decoder.feed("5#a|b|c");
  EXPECT_EQ(decoder.next(frame), wire::FrameDecoder::Status::error);
}

TEST(DrachtioFrameCodec, PipelinedFramesInOneRead) {
  wire::FrameDecoder decoder;
  decoder.feed("6#a|ping6#b|ping3#c|d");
  wire::Frame frame;
  std::vector<std::string> ids;
  while (decoder.next(frame) == wire::FrameDecoder::Status::frame) ids.emplace_back(frame.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(DrachtioFrameCodec, LengthCountsUtf8Bytes) {
  wire::Frame frame;
  frame.fields = {"id", "sip", "", ""};
  frame.has_sip = true;
  frame.sip = "MESSAGE sip:x SIP/2.0\r\n\r\nh\xc3\xa9llo";  // "héllo"
  const std::string bytes = wire::encode(frame);
  EXPECT_EQ(bytes.substr(0, bytes.find('#')), std::to_string(bytes.size() - bytes.find('#') - 1));
  wire::FrameDecoder decoder;
  decoder.feed(bytes);
  wire::Frame back;
  ASSERT_EQ(decoder.next(back), wire::FrameDecoder::Status::frame);
  EXPECT_EQ(back.sip, frame.sip);
}

}  // namespace
