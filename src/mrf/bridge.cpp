// Bridge: an ARI bridge with an RAII lifetime. Its membership follows Asterisk's
// ChannelEnteredBridge / ChannelLeftBridge (the app is subscribed to the bridge, so that they
// arrive whoever moved the channel), plus the answers to our own addChannel / removeChannel.
// Announcer and Recorder channels (bridge play, MOH, record) are not members.
#include "endpoint_errors.hpp"

#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/detail/async.hpp>
#include <astmrf/mrf/bridge.hpp>
#include <astmrf/util/log.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>

namespace astmrf::mrf {

using util::quote;

std::string_view to_string(BridgeType type) noexcept {
  switch (type) {
    case BridgeType::mixing: return "mixing";
    case BridgeType::holding: return "holding";
  }
  return "unknown";
}

std::string_view to_string(BridgeEnd end) noexcept {
  switch (end) {
    case BridgeEnd::destroyed: return "destroyed";
    case BridgeEnd::empty: return "empty";
    case BridgeEnd::media_server_lost: return "media_server_lost";
  }
  return "unknown";
}

namespace {

bool starts_with(std::string_view text, std::string_view prefix) { return text.substr(0, prefix.size()) == prefix; }

// Channels Asterisk puts in a bridge for its own verbs: not members.
bool is_helper_channel(std::string_view name) {
  return starts_with(name, "Announcer/") || starts_with(name, "Recorder/");
}

bool is_unprocessable(const std::exception_ptr& error) {
  try {
    if (error) std::rethrow_exception(error);
  } catch (const ari::UnprocessableEntity&) {
    return true;
  } catch (...) {
  }
  return false;
}

}  // namespace

Bridge::Bridge(std::weak_ptr<MediaServer> server, boost::asio::any_io_executor executor, std::string id,
               BridgeOptions options)
    : server_(std::move(server)),
      executor_(std::move(executor)),
      id_(std::move(id)),
      options_(std::move(options)),
      end_(executor_),
      member_(executor_),
      end_signal_(executor_) {
  if (auto s = server_.lock()) {
    app_ = s->app();
    log_ = s->log_;
  }
}

Bridge::~Bridge() {
  auto server = server_.lock();
  if (server) {
    if (auto it = server->bridges_.find(id_); it != server->bridges_.end() && it->second.expired()) {
      server->bridges_.erase(it);
    }
  }
  if (end_.ended() || !server) return;
  // The last handle is gone: nothing is left on Asterisk.
  events_.reset();
  if (log_) log_->debug("event=bridge_dropped bridge_id={} server={}", id_, quote(server->name()));
  server->ari().bridges().async_destroy(ari::bridges::Destroy{id_}, [](std::exception_ptr) {});
  server->ari().async_unsubscribe_source(app_, "bridge:" + id_, [](std::exception_ptr) {});
}

ari::Client* Bridge::usable(std::exception_ptr& error) const {
  if (end_.ended()) {
    error = std::make_exception_ptr(BridgeEnded(end_.value()));
    return nullptr;
  }
  auto server = server_.lock();
  if (!server || !server->connected()) {
    error = std::make_exception_ptr(MediaServerUnavailable("the media server is gone"));
    return nullptr;
  }
  return &server->ari();
}

void MediaServer::start_create_bridge(BridgeOptions options, BridgeHandler handler) {
  Bridge::create(shared_from_this(), std::move(options), {}, std::move(handler));
}

std::size_t MediaServer::bridges() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(bridges_.begin(), bridges_.end(), [](const auto& entry) { return !entry.second.expired(); }));
}

void Bridge::create(const std::shared_ptr<MediaServer>& server, BridgeOptions options,
                    std::vector<std::shared_ptr<Endpoint>> members, BridgeHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), server->executor_);
  if (server->disconnected_ || !server->connected()) {
    (*once)(std::make_exception_ptr(MediaServerUnavailable("media server " + server->app() + " is " +
                                                           std::string(to_string(server->state())))),
            nullptr);
    return;
  }
  for (const auto& member : members) {
    if (!member) {
      (*once)(std::make_exception_ptr(std::invalid_argument("bridge: null endpoint")), nullptr);
      return;
    }
    if (member->media_server() != server) {
      (*once)(std::make_exception_ptr(std::invalid_argument("bridge: the endpoints are on different media servers")),
              nullptr);
      return;
    }
    if (member->destroyed()) {
      (*once)(std::make_exception_ptr(CallEnded(member->end_reason())), nullptr);
      return;
    }
  }
  auto& client = server->ari();
  std::shared_ptr<Bridge> bridge(new Bridge(server, server->executor_, client.make_id("bridge"), std::move(options)));
  server->bridges_[bridge->id_] = bridge;
  // Subscribed before the bridge exists: no event of it is missed.
  std::weak_ptr<Bridge> weak = bridge;
  bridge->events_ = client.subscribe(
      ari::ResourceKind::bridge, bridge->id_,
      [weak](const ari::Event& event) {
        if (auto self = weak.lock()) self->on_event(event);
      },
      [weak](ari::EndReason reason) {
        if (reason == ari::EndReason::ended) return;  // BridgeDestroyed, handled as an event
        if (auto self = weak.lock()) self->ended(BridgeEnd::media_server_lost, false);
      });
  std::string type = bridge->options_.type == BridgeType::holding ? "holding" : "mixing";
  if (bridge->options_.dtmf_events && bridge->options_.type == BridgeType::mixing) type += ",dtmf_events";
  server->log_->debug("event=bridge_create bridge_id={} server={} type={} name={}", bridge->id_, quote(server->name()),
                      type, quote(bridge->options_.name));
  // Cancelled: the bridge held by the steps below is dropped, which destroys it on Asterisk.
  once->on_cancel();
  const ari::bridges::CreateWithId params{.bridge_id = bridge->id_, .type = type, .name = bridge->options_.name};
  client.bridges().async_create_with_id(
      params, [once, bridge, members = std::move(members)](std::exception_ptr error, ari::Bridge) mutable {
        if (once->done()) return;
        if (error) {
          bridge->ended(BridgeEnd::destroyed, false);
          (*once)(error, nullptr);
          return;
        }
        auto owner = bridge->server_.lock();
        if (!owner || bridge->destroyed()) {
          (*once)(std::make_exception_ptr(BridgeEnded(bridge->end_reason())), nullptr);
          return;
        }
        owner->ari().async_subscribe_source(
            bridge->app_, "bridge:" + bridge->id_,
            [once, bridge, members = std::move(members)](std::exception_ptr subscribe_error) mutable {
              if (once->done()) return;
              if (subscribe_error) {
                bridge->destroy();
                (*once)(subscribe_error, nullptr);
                return;
              }
              if (members.empty()) {
                (*once)(nullptr, bridge);
                return;
              }
              std::vector<std::string> ids;
              std::vector<std::weak_ptr<Endpoint>> endpoints;
              for (auto& member : members) {
                ids.push_back(member->channel_id());
                endpoints.push_back(member);
              }
              auto added = [once, bridge](std::exception_ptr add_error) {
                if (once->done()) return;
                if (add_error) {
                  bridge->destroy();
                  (*once)(add_error, nullptr);
                  return;
                }
                (*once)(nullptr, bridge);
              };
              bridge->add_channels(std::move(ids), {}, std::move(endpoints), VoidHandler(std::move(added)));
            });
      });
}

void Bridge::start_add(std::shared_ptr<Endpoint> endpoint, MemberOptions options, VoidHandler handler) {
  if (!endpoint) {
    (*astmrf::detail::make_once(std::move(handler), executor_))(
        std::make_exception_ptr(std::invalid_argument("bridge add: null endpoint")));
    return;
  }
  if (endpoint->media_server() != server_.lock()) {
    (*astmrf::detail::make_once(std::move(handler), executor_))(
        std::make_exception_ptr(std::invalid_argument("bridge add: the endpoint is on another media server")));
    return;
  }
  if (endpoint->destroyed()) {
    (*astmrf::detail::make_once(std::move(handler), executor_))(
        std::make_exception_ptr(CallEnded(endpoint->end_reason())));
    return;
  }
  add_channels({endpoint->channel_id()}, std::move(options), {endpoint}, std::move(handler));
}

void Bridge::add_channels(std::vector<std::string> channel_ids, MemberOptions options,
                          std::vector<std::weak_ptr<Endpoint>> endpoints, VoidHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  std::exception_ptr refused;
  ari::Client* client = usable(refused);
  if (!client) {
    (*once)(refused);
    return;
  }
  once->on_cancel();
  log_->debug("event=bridge_add bridge_id={} channels={}", id_, channel_ids.size() == 1 ? channel_ids.front() : "2+");
  const ari::bridges::AddChannel params{
      .bridge_id = id_,
      .channel = channel_ids,
      .role = options.role,
      .absorb_dtmf = options.absorb_dtmf ? std::optional<bool>(true) : std::nullopt,
      .mute = options.mute ? std::optional<bool>(true) : std::nullopt,
      .inhibit_connected_line_updates = std::nullopt,
  };
  std::weak_ptr<Bridge> weak = weak_from_this();
  client->bridges().async_add_channel(params, [once, weak, channel_ids, endpoints](std::exception_ptr error) {
    auto self = weak.lock();
    if (error) {
      // Asterisk's 400 / 422 about a channel that is gone or leaving Stasis: the call ended.
      for (const auto& e : endpoints) {
        if (auto endpoint = e.lock(); endpoint && endpoint->destroyed()) {
          error = std::make_exception_ptr(CallEnded(endpoint->end_reason()));
        }
      }
      (*once)(error);
      return;
    }
    if (self && !self->destroyed()) {
      // The answer may come before ChannelEnteredBridge: the member counts from now.
      for (std::size_t i = 0; i < channel_ids.size(); ++i) {
        auto endpoint = i < endpoints.size() ? endpoints[i].lock() : nullptr;
        if (endpoint && endpoint->destroyed()) continue;
        self->entered(channel_ids[i]);
      }
    }
    (*once)(nullptr);
  });
}

void Bridge::start_remove(std::shared_ptr<Endpoint> endpoint, VoidHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  if (!endpoint || std::find(members_.begin(), members_.end(), endpoint->channel_id()) == members_.end()) {
    (*once)(nullptr);  // not a member: nothing to do
    return;
  }
  std::exception_ptr refused;
  ari::Client* client = usable(refused);
  if (!client) {
    (*once)(refused);
    return;
  }
  once->on_cancel();
  std::weak_ptr<Bridge> weak = weak_from_this();
  const std::string channel_id = endpoint->channel_id();
  client->bridges().async_remove_channel(ari::bridges::RemoveChannel{.bridge_id = id_, .channel = {channel_id}},
                                         [once, weak, channel_id](std::exception_ptr error) {
                                           // 422: it had left already (moved, or hung up) — what was asked.
                                           if (is_unprocessable(error)) error = nullptr;
                                           if (auto self = weak.lock(); self && !error) self->left(channel_id);
                                           (*once)(error);
                                         });
}

void Bridge::on_event(const ari::Event& event) {
  switch (event.type()) {
    case ari::EventType::channel_entered_bridge: {
      const auto entered_event = event.as<ari::ChannelEnteredBridge>();
      if (!entered_event.channel || is_helper_channel(entered_event.channel->name)) return;
      entered(entered_event.channel->id);
      break;
    }
    case ari::EventType::channel_left_bridge: {
      const auto left_event = event.as<ari::ChannelLeftBridge>();
      if (is_helper_channel(left_event.channel.name)) return;
      left(left_event.channel.id);
      break;
    }
    case ari::EventType::bridge_destroyed: ended(BridgeEnd::destroyed, false); break;
    default: break;
  }
}

void Bridge::entered(const std::string& channel_id) {
  if (end_.ended()) return;
  auto keep = shared_from_this();
  if (auto server = server_.lock()) {
    if (auto it = server->endpoints_.find(channel_id); it != server->endpoints_.end()) {
      if (auto endpoint = it->second.lock()) endpoint->bridge_ = weak_from_this();
    }
  }
  if (std::find(members_.begin(), members_.end(), channel_id) != members_.end()) return;
  members_.push_back(channel_id);
  had_member_ = true;
  log_->debug("event=bridge_member_joined bridge_id={} channel_id={} members={}", id_, channel_id, members_.size());
  member_.emit(BridgeMemberEvent{true, channel_id});
}

void Bridge::left(const std::string& channel_id) {
  if (end_.ended()) return;
  auto keep = shared_from_this();
  if (auto server = server_.lock()) {
    if (auto it = server->endpoints_.find(channel_id); it != server->endpoints_.end()) {
      if (auto endpoint = it->second.lock(); endpoint && endpoint->bridge_.lock().get() == this) {
        endpoint->bridge_.reset();
      }
    }
  }
  auto it = std::find(members_.begin(), members_.end(), channel_id);
  if (it == members_.end()) return;
  members_.erase(it);
  log_->debug("event=bridge_member_left bridge_id={} channel_id={} members={}", id_, channel_id, members_.size());
  member_.emit(BridgeMemberEvent{false, channel_id});
  if (members_.empty() && had_member_ && options_.destroy_when_empty) ended(BridgeEnd::empty, true);
}

void Bridge::destroy() { ended(BridgeEnd::destroyed, true); }

void Bridge::ended(BridgeEnd reason, bool delete_on_asterisk) {
  if (!end_.set(reason)) return;
  auto keep = shared_from_this();
  events_.reset();
  auto server = server_.lock();
  if (server) {
    for (const auto& channel_id : members_) {
      if (auto it = server->endpoints_.find(channel_id); it != server->endpoints_.end()) {
        if (auto endpoint = it->second.lock(); endpoint && endpoint->bridge_.lock().get() == this) {
          endpoint->bridge_.reset();
        }
      }
    }
    if (reason != BridgeEnd::media_server_lost) {
      if (delete_on_asterisk) {
        server->ari().bridges().async_destroy(ari::bridges::Destroy{id_}, [](std::exception_ptr) {});
      }
      server->ari().async_unsubscribe_source(app_, "bridge:" + id_, [](std::exception_ptr) {});
    }
  }
  if (log_) {
    log_->debug("event=bridge_ended bridge_id={} reason={} members={}", id_, to_string(reason), members_.size());
  }
  members_.clear();
  member_.close(std::make_exception_ptr(BridgeEnded(reason)));
  end_signal_.emit(reason);
  end_signal_.close(std::make_exception_ptr(BridgeEnded(reason)));
  end_.notify();
}

Subscription Bridge::on_member(std::function<void(const BridgeMemberEvent&)> handler) {
  return member_.connect(std::move(handler));
}

// ------------------------------------------------------------------ play, moh, record

void Bridge::start_play(std::vector<std::string> media, PlayOptions options, PlayHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  std::exception_ptr refused;
  ari::Client* client = usable(refused);
  if (!client) {
    (*once)(refused, PlayResult{});
    return;
  }
  if (media.empty()) {
    (*once)(std::make_exception_ptr(std::invalid_argument("bridge play: no media")), PlayResult{});
    return;
  }
  const std::string playback_id = options.playback_id.empty() ? client->make_id("pb") : options.playback_id;
  // What the playback's handlers share: its subscription and whether we asked to stop it.
  struct State {
    ari::Subscription events;
    Subscription bridge_end;
    bool stop_asked{false};
  };
  auto state = std::make_shared<State>();
  std::weak_ptr<State> weak_state = state;
  auto finish = [once, state, playback_id](PlayEnd end) mutable {
    if (!state) return;
    auto keep = std::move(state);  // drops the handlers' hold on it
    keep->events.reset();
    keep->bridge_end.reset();
    (*once)(nullptr, PlayResult{end, playback_id, std::nullopt});
  };
  auto shared_finish = std::make_shared<decltype(finish)>(std::move(finish));
  state->events = client->subscribe(
      ari::ResourceKind::playback, playback_id,
      [shared_finish, weak_state](const ari::Event& event) {
        if (event.type() != ari::EventType::playback_finished) return;
        const auto playback = event.as<ari::PlaybackFinished>().playback;
        auto s = weak_state.lock();
        const bool stopped = s && s->stop_asked;
        (*shared_finish)(playback.state == "failed" ? PlayEnd::failed
                                                    : (stopped ? PlayEnd::stopped : PlayEnd::finished));
      },
      [shared_finish](ari::EndReason reason) {
        if (reason != ari::EndReason::ended) (*shared_finish)(PlayEnd::call_ended);
      });
  state->bridge_end = end_signal_.connect([shared_finish](const BridgeEnd&) { (*shared_finish)(PlayEnd::call_ended); });
  std::weak_ptr<MediaServer> weak_server = server_;
  once->on_cancel([weak_server, weak_state, playback_id] {
    if (auto s = weak_state.lock()) s->stop_asked = true;
    if (auto server = weak_server.lock()) {
      server->ari().playbacks().async_stop(ari::playbacks::Stop{playback_id}, [](std::exception_ptr) {});
    }
  });
  const ari::bridges::PlayWithId params{
      .bridge_id = id_,
      .playback_id = playback_id,
      .media = std::move(media),
      .announcer_format = {},
      .lang = options.language,
      .offsetms = options.offset.count() > 0 ? std::optional<std::int64_t>(options.offset.count()) : std::nullopt,
      .skipms = options.skip.count() > 0 ? std::optional<std::int64_t>(options.skip.count()) : std::nullopt,
  };
  client->bridges().async_play_with_id(params, [once, shared_finish, state](std::exception_ptr error, ari::Playback) {
    if (!error) return;  // PlaybackFinished completes it
    state->events.reset();
    state->bridge_end.reset();
    (*once)(error, PlayResult{});
  });
}

void Bridge::start_moh(bool on, std::string moh_class, VoidHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  std::exception_ptr refused;
  ari::Client* client = usable(refused);
  if (!client) {
    (*once)(refused);
    return;
  }
  once->on_cancel();
  auto done = [once](std::exception_ptr e) { (*once)(std::move(e)); };
  if (on) {
    client->bridges().async_start_moh(ari::bridges::StartMoh{.bridge_id = id_, .moh_class = std::move(moh_class)},
                                      std::move(done));
  } else {
    client->bridges().async_stop_moh(ari::bridges::StopMoh{.bridge_id = id_}, std::move(done));
  }
}

void Bridge::start_record(RecordOptions options, RecordHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  std::exception_ptr refused;
  ari::Client* client = usable(refused);
  if (!client) {
    (*once)(refused, RecordResult{});
    return;
  }
  if (options.format.empty() || options.max_duration.count() < 0 || options.max_silence.count() < 0) {
    (*once)(std::make_exception_ptr(std::invalid_argument("bridge record: empty format or negative limit")),
            RecordResult{});
    return;
  }
  if (options.name.empty()) options.name = client->make_id("rec");
  struct State {
    ari::Subscription events;
    Subscription bridge_end;
    RecordResult result;
    bool stop_asked{false};
  };
  auto state = std::make_shared<State>();
  state->result.name = options.name;
  state->result.format = options.format;
  std::weak_ptr<State> weak_state = state;
  auto finish = std::make_shared<std::function<void(RecordEnd, const ari::LiveRecording*)>>();
  *finish = [once, weak_state](RecordEnd end, const ari::LiveRecording* recording) {
    auto s = weak_state.lock();
    if (!s || once->done()) return;
    s->events.reset();
    s->bridge_end.reset();
    if (recording) {
      s->result.duration = std::chrono::seconds(recording->duration.value_or(0));
      s->result.talking_duration = std::chrono::seconds(recording->talking_duration.value_or(0));
      s->result.cause = recording->cause;
    }
    s->result.end = end == RecordEnd::finished && s->stop_asked ? RecordEnd::stopped : end;
    (*once)(nullptr, s->result);
  };
  state->events = client->subscribe(
      ari::ResourceKind::recording, options.name,
      [finish](const ari::Event& event) {
        if (event.type() == ari::EventType::recording_finished) {
          const auto recording = event.as<ari::RecordingFinished>().recording;
          (*finish)(RecordEnd::finished, &recording);
        } else if (event.type() == ari::EventType::recording_failed) {
          const auto recording = event.as<ari::RecordingFailed>().recording;
          (*finish)(RecordEnd::failed, &recording);
        }
      },
      [finish](ari::EndReason reason) {
        if (reason != ari::EndReason::ended) (*finish)(RecordEnd::call_ended, nullptr);
      });
  // The handlers hold the state until the recording ends (or the bridge does).
  state->bridge_end =
      end_signal_.connect([finish, state](const BridgeEnd&) { (*finish)(RecordEnd::call_ended, nullptr); });
  std::weak_ptr<MediaServer> weak_server = server_;
  const std::string name = options.name;
  once->on_cancel([weak_server, weak_state, name] {
    if (auto s = weak_state.lock()) s->stop_asked = true;
    if (auto server = weak_server.lock()) {
      server->ari().recordings().async_stop(ari::recordings::Stop{name}, [](std::exception_ptr) {});
    }
  });
  stop_hooks_[name] = [weak_state] {
    if (auto s = weak_state.lock()) s->stop_asked = true;
  };
  const ari::bridges::Record params{
      .bridge_id = id_,
      .name = options.name,
      .format = options.format,
      .recorder_format = {},
      .max_duration_seconds = options.max_duration.count(),
      .max_silence_seconds = options.max_silence.count(),
      .if_exists = internal::record_if_exists_name(options.if_exists),
      .beep = options.beep,
      .terminate_on = internal::record_terminate_name(options.terminate_on),
  };
  client->bridges().async_record(params, [once, finish, state](std::exception_ptr error, ari::LiveRecording) {
    if (!error) return;  // RecordingFinished completes it
    state->events.reset();
    state->bridge_end.reset();
    (*once)(error, RecordResult{});
  });
}

void Bridge::start_stop_recording(std::string name, VoidHandler handler) {
  auto once = astmrf::detail::make_once(std::move(handler), executor_);
  auto server = server_.lock();
  if (!server) {
    (*once)(std::make_exception_ptr(MediaServerUnavailable("the media server is gone")));
    return;
  }
  if (auto it = stop_hooks_.find(name); it != stop_hooks_.end()) {
    it->second();
    stop_hooks_.erase(it);
  }
  once->on_cancel();
  server->ari().recordings().async_stop(ari::recordings::Stop{std::move(name)},
                                        [once](std::exception_ptr error) { (*once)(std::move(error)); });
}

// ------------------------------------------------------------------ Endpoint's side

std::shared_ptr<Bridge> Endpoint::bridge() const {
  auto bridge = bridge_.lock();
  return bridge && !bridge->destroyed() ? bridge : nullptr;
}

void Endpoint::start_bridge(std::shared_ptr<Endpoint> other, BridgeOptions options, BridgeHandler handler) {
  auto server = server_.lock();
  if (!server || end_.ended()) {
    auto once = astmrf::detail::make_once(std::move(handler), executor_);
    (*once)(end_.ended() ? std::make_exception_ptr(CallEnded(end_.value()))
                         : std::make_exception_ptr(MediaServerUnavailable("the media server is gone")),
            nullptr);
    return;
  }
  if (!other || other.get() == this) {
    auto once = astmrf::detail::make_once(std::move(handler), executor_);
    (*once)(std::make_exception_ptr(std::invalid_argument("bridge: no other endpoint")), nullptr);
    return;
  }
  Bridge::create(server, std::move(options), {shared_from_this(), std::move(other)}, std::move(handler));
}

void Endpoint::start_unbridge(boost::asio::any_completion_handler<void(std::exception_ptr)> handler) {
  auto current = bridge();
  if (!current) {
    (*astmrf::detail::make_once(std::move(handler), executor_))(nullptr);
    return;
  }
  current->start_remove(shared_from_this(), std::move(handler));
}

}  // namespace astmrf::mrf
