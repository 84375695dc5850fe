// Conference: a named Bridge (mixing, media kept in Asterisk's core so that mute and talk
// detection always apply) plus its members. Members leave by the Bridge's member events, so a
// hang-up, a kick, a move elsewhere and async_leave are one path.
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/conference.hpp>
#include <astmrf/util/log.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace astmrf::mrf {

std::string_view to_string(ConferenceEventKind kind) noexcept {
  switch (kind) {
    case ConferenceEventKind::joined: return "joined";
    case ConferenceEventKind::left: return "left";
    case ConferenceEventKind::talking_started: return "talking_started";
    case ConferenceEventKind::talking_finished: return "talking_finished";
  }
  return "unknown";
}

std::string_view to_string(ConferenceEnd end) noexcept {
  switch (end) {
    case ConferenceEnd::destroyed: return "destroyed";
    case ConferenceEnd::last_member_left: return "last_member_left";
    case ConferenceEnd::last_moderator_left: return "last_moderator_left";
    case ConferenceEnd::media_server_lost: return "media_server_lost";
  }
  return "unknown";
}

Conference::Conference(std::weak_ptr<MediaServer> server, boost::asio::any_io_executor executor, std::string name,
                       ConferenceOptions options)
    : server_(std::move(server)),
      executor_(std::move(executor)),
      name_(std::move(name)),
      options_(std::move(options)),
      end_(executor_),
      events_(executor_) {}

Conference::~Conference() {
  if (auto server = server_.lock()) {
    if (auto it = server->conferences_.find(name_); it != server->conferences_.end() && it->second.expired()) {
      server->conferences_.erase(it);
    }
  }
  // Nothing holds it any more: its bridge goes too, even if the application kept a handle on it.
  if (!end_.ended() && bridge_) bridge_->destroy();
}

std::shared_ptr<Conference> MediaServer::conference(const std::string& name) const {
  auto it = conferences_.find(name);
  if (it == conferences_.end()) return nullptr;
  auto conference = it->second.lock();
  return conference && !conference->ended() && conference->ready_ ? conference : nullptr;
}

void MediaServer::start_create_conference(std::string name, ConferenceOptions options, ConferenceHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (name.empty()) {
    (*once)(std::make_exception_ptr(std::invalid_argument("conference: empty name")), nullptr);
    return;
  }
  auto wait_for = [once](const std::shared_ptr<Conference>& conference) {
    conference->waiting_.push_back(
        [once, conference](std::exception_ptr error) { (*once)(error, error ? nullptr : conference); });
  };
  if (auto it = conferences_.find(name); it != conferences_.end()) {
    if (auto existing = it->second.lock(); existing && !existing->ended()) {
      if (existing->ready_) {
        (*once)(nullptr, existing);
      } else {
        wait_for(existing);  // its bridge is being made
      }
      return;
    }
  }
  std::shared_ptr<Conference> conference(new Conference(weak_from_this(), executor_, name, std::move(options)));
  conferences_[name] = conference;
  wait_for(conference);
  once->on_cancel();
  log_->debug("event=conference_create server={} conference={}", util::quote(this->name()), util::quote(name));
  // dtmf_events: the media stays in Asterisk's core (no native RTP between two members), where
  // member mute and talk detection apply; members' DTMF still reaches their endpoints.
  async_create_bridge(
      BridgeOptions{
          .type = BridgeType::mixing, .name = "conference:" + name, .destroy_when_empty = false, .dtmf_events = true},
      [conference](std::exception_ptr error, std::shared_ptr<Bridge> bridge) {
        if (!error) {
          conference->bridge_ = std::move(bridge);
          conference->ready_ = true;
          std::weak_ptr<Conference> weak = conference;
          conference->bridge_members_ = conference->bridge_->on_member([weak](const BridgeMemberEvent& event) {
            if (auto self = weak.lock(); self && !event.joined) self->member_left(event.channel_id);
          });
          conference->bridge_->end_.on_end([weak](const BridgeEnd&) {
            if (auto self = weak.lock()) self->end(ConferenceEnd::media_server_lost);
          });
        } else {
          conference->end(ConferenceEnd::destroyed);
        }
        auto waiting = std::move(conference->waiting_);
        conference->waiting_.clear();
        for (auto& waiter : waiting) waiter(error);
      });
}

std::vector<ConferenceMember> Conference::members() const {
  std::vector<ConferenceMember> out;
  out.reserve(members_.size());
  for (const auto& member : members_) out.push_back(member.info);
  return out;
}

Subscription Conference::on_event(std::function<void(const ConferenceEvent&)> handler) {
  return events_.connect(std::move(handler));
}

void Conference::start_join(std::shared_ptr<Endpoint> endpoint, JoinOptions options, VoidHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (end_.ended() || !bridge_) {
    (*once)(std::make_exception_ptr(BridgeEnded(bridge_ ? bridge_->end_reason() : std::nullopt)));
    return;
  }
  if (!endpoint) {
    (*once)(std::make_exception_ptr(std::invalid_argument("conference join: null endpoint")));
    return;
  }
  if (endpoint->destroyed()) {
    (*once)(std::make_exception_ptr(CallEnded(endpoint->end_reason())));
    return;
  }
  const std::string channel_id = endpoint->channel_id();
  if (std::any_of(members_.begin(), members_.end(),
                  [&](const Member& member) { return member.info.channel_id == channel_id; })) {
    (*once)(nullptr);
    return;
  }
  if (options_.max_members != 0 && members_.size() + joining_ >= options_.max_members) {
    (*once)(std::make_exception_ptr(
        ConferenceFull("conference " + name_ + " has its " + std::to_string(options_.max_members) + " members")));
    return;
  }
  ++joining_;
  once->on_cancel();
  auto self = shared_from_this();
  // Talk detection first (its events from the first word), the mute if asked, then the bridge.
  auto fail = [self, once](std::exception_ptr error) {
    --self->joining_;
    (*once)(std::move(error));
  };
  auto add = [self, once, endpoint, options, channel_id, fail] {
    if (self->end_.ended()) return fail(std::make_exception_ptr(BridgeEnded(self->bridge_->end_reason())));
    self->bridge_->async_add(endpoint, {}, [self, once, endpoint, options, channel_id](std::exception_ptr error) {
      --self->joining_;
      if (error) return (*once)(error);
      if (self->end_.ended()) return (*once)(std::make_exception_ptr(BridgeEnded(self->bridge_->end_reason())));
      const auto in_bridge = self->bridge_->channel_ids();
      if (endpoint->destroyed() || std::find(in_bridge.begin(), in_bridge.end(), channel_id) == in_bridge.end()) {
        return (*once)(std::make_exception_ptr(CallEnded(endpoint->end_reason())));  // gone meanwhile
      }
      std::weak_ptr<Conference> weak = self;
      Member member;
      member.info = ConferenceMember{channel_id, endpoint, options.muted, options.moderator};
      member.talk = endpoint->on_talk([weak, channel_id](const TalkEvent& talk) {
        if (auto conference = weak.lock()) {
          conference->events_.emit(ConferenceEvent{
              talk.talking ? ConferenceEventKind::talking_started : ConferenceEventKind::talking_finished, channel_id});
        }
      });
      self->members_.push_back(std::move(member));
      self->self_ = self;  // its members keep it
      if (auto server = self->server_.lock()) {
        server->log_->debug("event=conference_joined conference={} channel_id={} members={} moderator={} muted={}",
                            util::quote(self->name_), channel_id, self->members_.size(), options.moderator,
                            options.muted);
      }
      self->events_.emit(ConferenceEvent{ConferenceEventKind::joined, channel_id});
      if (self->options_.beep_on_join) {
        self->bridge_->async_play({self->options_.beep}, PlayOptions{}, [](std::exception_ptr, PlayResult) {});
      }
      if (self->options_.record && !self->recording_) {
        self->recording_ = true;
        auto name = self->options_.recording_name;
        if (name.empty()) {
          auto server = self->server_.lock();
          name = "conference-" + self->name_ + "-" + (server ? server->ari().make_id("rec") : std::string("rec"));
        }
        self->bridge_->async_record(RecordOptions{.name = name, .format = self->options_.recording_format},
                                    [](std::exception_ptr, RecordResult) {});
      }
      self->after_change();
      (*once)(nullptr);
    });
  };
  endpoint->async_start_talk_detect(options_.talk_detect, [endpoint, options, add, fail](std::exception_ptr error) {
    if (error) return fail(error);
    if (!options.muted) return add();
    endpoint->async_mute(MediaDirection::in, [add, fail](std::exception_ptr mute_error) {
      if (mute_error) return fail(mute_error);
      add();
    });
  });
}

void Conference::start_verb(Verb verb, std::shared_ptr<Endpoint> endpoint, VoidHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  auto it = std::find_if(members_.begin(), members_.end(), [&](const Member& member) {
    return endpoint && member.info.channel_id == endpoint->channel_id();
  });
  if (it == members_.end()) {
    if (verb == Verb::leave) {
      (*once)(nullptr);  // not in it: what was asked
    } else {
      (*once)(std::make_exception_ptr(std::invalid_argument("conference " + name_ + ": not a member")));
    }
    return;
  }
  once->on_cancel();
  std::weak_ptr<Conference> weak = weak_from_this();
  const std::string channel_id = endpoint->channel_id();
  switch (verb) {
    case Verb::leave:
      bridge_->async_remove(std::move(endpoint), [once](std::exception_ptr error) { (*once)(std::move(error)); });
      break;
    case Verb::mute:
    case Verb::unmute: {
      const bool mute = verb == Verb::mute;
      auto done = [once, weak, channel_id, mute](std::exception_ptr error) {
        if (auto self = weak.lock(); self && !error) {
          for (auto& member : self->members_) {
            if (member.info.channel_id == channel_id) member.info.muted = mute;
          }
        }
        (*once)(std::move(error));
      };
      if (mute) {
        endpoint->async_mute(MediaDirection::in, std::move(done));
      } else {
        endpoint->async_unmute(MediaDirection::in, std::move(done));
      }
      break;
    }
    case Verb::kick:
      // Its hang-up takes it out of the bridge; the member's leave follows from the bridge.
      endpoint->destroy();
      (*once)(nullptr);
      break;
  }
}

void Conference::member_left(const std::string& channel_id) {
  auto it = std::find_if(members_.begin(), members_.end(),
                         [&](const Member& member) { return member.info.channel_id == channel_id; });
  if (it == members_.end() || end_.ended()) return;
  auto keep = shared_from_this();
  const bool was_moderator = it->info.moderator;
  members_.erase(it);
  if (auto server = server_.lock()) {
    server->log_->debug("event=conference_left conference={} channel_id={} members={}", util::quote(name_), channel_id,
                        members_.size());
  }
  events_.emit(ConferenceEvent{ConferenceEventKind::left, channel_id});
  switch (options_.end_when) {
    case ConferenceEndWhen::last_member_leaves:
      if (members_.empty()) return end(ConferenceEnd::last_member_left);
      break;
    case ConferenceEndWhen::last_moderator_leaves:
      if (was_moderator &&
          std::none_of(members_.begin(), members_.end(), [](const Member& member) { return member.info.moderator; })) {
        // The others are kicked: their endpoints destroyed (their callers get BYE).
        std::vector<std::shared_ptr<Endpoint>> others;
        for (auto& member : members_) {
          if (auto endpoint = member.info.endpoint.lock()) others.push_back(std::move(endpoint));
        }
        end(ConferenceEnd::last_moderator_left);
        for (auto& endpoint : others) endpoint->destroy();
        return;
      }
      break;
    case ConferenceEndWhen::never: break;
  }
  if (options_.beep_on_leave && !members_.empty()) {
    bridge_->async_play({options_.beep}, PlayOptions{}, [](std::exception_ptr, PlayResult) {});
  }
  after_change();
  if (members_.empty()) self_.reset();  // `keep` holds it to the end of this call
}

void Conference::after_change() {
  if (!options_.moh_when_alone || end_.ended() || !bridge_) return;
  const bool alone = members_.size() == 1;
  if (alone && !moh_on_) {
    moh_on_ = true;
    bridge_->async_start_moh(options_.moh_class, [](std::exception_ptr) {});
  } else if (!alone && moh_on_) {
    moh_on_ = false;
    bridge_->async_stop_moh([](std::exception_ptr) {});
  }
}

void Conference::start_play(std::vector<std::string> media, PlayOptions options, PlayHandler handler) {
  bridge_->start_play(std::move(media), std::move(options), std::move(handler));
}

void Conference::start_record(RecordOptions options, RecordHandler handler) {
  bridge_->start_record(std::move(options), std::move(handler));
}

void Conference::start_stop_recording(std::string name, VoidHandler handler) {
  bridge_->start_stop_recording(std::move(name), std::move(handler));
}

void Conference::destroy() { end(ConferenceEnd::destroyed); }

void Conference::end(ConferenceEnd reason) {
  if (!end_.set(reason)) return;
  auto keep = shared_from_this();
  if (auto server = server_.lock()) {
    server->log_->debug("event=conference_ended conference={} reason={} members={}", util::quote(name_),
                        to_string(reason), members_.size());
    if (auto it = server->conferences_.find(name_); it != server->conferences_.end() && it->second.lock() == keep) {
      server->conferences_.erase(it);
    }
  }
  bridge_members_.reset();
  members_.clear();
  if (bridge_) bridge_->destroy();
  events_.close(std::make_exception_ptr(BridgeEnded(bridge_ ? bridge_->end_reason() : std::nullopt)));
  end_.notify();
  self_.reset();
}

}  // namespace astmrf::mrf
