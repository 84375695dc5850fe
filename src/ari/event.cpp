#include <astmrf/ari/error.hpp>
#include <astmrf/ari/event.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

#include <array>
#include <cstddef>
#include <functional>
#include <list>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace astmrf::ari {

namespace detail {

// The parsed document, built only when a handler asks for it (json(), as<T>()):
// most events (ChannelVarset, state changes, StasisEnd...) are dispatched on their
// type and resource ids alone, which one scan of the text yields.
struct EventDom {
  EventDom() {}                                    // user-provided: no zeroing of the arena by value-initialization
  static constexpr std::size_t kArena = 6 * 1024;  // holds the DOM of a typical event (0.3-2.2 KB text)
  alignas(std::max_align_t) unsigned char arena[kArena];
  boost::json::monotonic_resource resource{arena, kArena};
  // On the arena from the start: assigning a parsed value to a value on another resource would
  // deep-copy the whole document to the heap.
  boost::json::value doc = boost::json::value(boost::json::storage_ptr(&resource));
};

struct EventData {
  static constexpr std::size_t kMaxRefs = 8;
  std::string text;  // the event as received: the views below point into it (or into `unescaped`)
  EventType type = EventType::unknown;
  std::string_view type_name;
  std::string_view application;
  std::string_view timestamp;
  std::array<ResourceRef, kMaxRefs> refs{};
  std::size_t nrefs = 0;
  std::string endpoint_key;  // "tech/resource": the only id not present verbatim in the text
  // The strings of interest that had escapes (rare). A list: stable addresses, and unlike a deque
  // it allocates nothing while empty.
  std::list<std::string> unescaped;
  mutable std::unique_ptr<EventDom> dom;
};

}  // namespace detail

namespace {

namespace json = boost::json;

bool ends_with(std::string_view s, std::string_view suffix) noexcept {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// SAX handler: validates the whole text (as a full parse would) but keeps only the top-level
// strings and, for each top-level object field, what names the resource it refers to.
class Scanner {
 public:
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);

  explicit Scanner(detail::EventData& d) : d_(d) {}

  bool top_is_object() const noexcept { return top_is_object_; }

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }

  bool on_object_begin(boost::system::error_code&) {
    if (depth_ == 0) top_is_object_ = true;
    if (depth_ == 1 && top_is_object_) {
      in_ref_ = true;
      ref_ = Candidate{};
      ref_.field = key_;
    }
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    --depth_;
    if (depth_ == 1 && in_ref_) {
      in_ref_ = false;
      add_ref();
    }
    value_done();
    return true;
  }
  bool on_array_begin(boost::system::error_code&) {
    ++depth_;
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth_;
    value_done();
    return true;
  }

  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    if (wanted_key()) partial_.append(s.data(), s.size());
    has_partial_ = true;
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code&) {
    if (wanted_key()) {
      const auto key = finish(s);
      if (depth_ == 1) {
        key_ = key;
      } else {
        inner_key_ = key;
        if (inner_key_ == "caller") ref_.has_caller = true;
        if (inner_key_ == "id") ref_.has_id = true;
      }
    }
    reset_partial();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, boost::system::error_code&) {
    if (wanted_string()) partial_.append(s.data(), s.size());
    has_partial_ = true;
    return true;
  }
  bool on_string(json::string_view s, std::size_t, boost::system::error_code&) {
    if (wanted_string()) {
      const auto value = finish(s);
      if (depth_ == 1) {
        if (key_ == "type")
          d_.type_name = value;
        else if (key_ == "application")
          d_.application = value;
        else if (key_ == "timestamp")
          d_.timestamp = value;
      } else if (inner_key_ == "id") {
        ref_.id = value;
      } else if (inner_key_ == "name") {
        ref_.name = value;
      } else if (inner_key_ == "technology") {
        ref_.technology = value;
      } else if (inner_key_ == "resource") {
        ref_.resource = value;
      }
    }
    reset_partial();
    value_done();
    return true;
  }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, boost::system::error_code&) { return value_done(); }
  bool on_uint64(std::uint64_t, json::string_view, boost::system::error_code&) { return value_done(); }
  bool on_double(double, json::string_view, boost::system::error_code&) { return value_done(); }
  bool on_bool(bool, boost::system::error_code&) { return value_done(); }
  bool on_null(boost::system::error_code&) { return value_done(); }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

 private:
  struct Candidate {
    std::string_view field, id, name, technology, resource;
    bool has_caller = false;
    bool has_id = false;
  };

  // Keys of the top-level object, and keys directly inside one of its object fields.
  bool wanted_key() const noexcept { return top_is_object_ && (depth_ == 1 || (depth_ == 2 && in_ref_)); }
  // String values directly under those keys.
  bool wanted_string() const noexcept { return wanted_key(); }

  bool value_done() {
    if (depth_ == 2) inner_key_ = {};
    return true;
  }

  // The complete string: a view into the event's text when the parser gave one (no escapes),
  // else a stable copy.
  std::string_view finish(json::string_view last) {
    const char* begin = d_.text.data();
    const char* end = begin + d_.text.size();
    const std::less_equal<const char*> le;
    if (!has_partial_ && le(begin, last.data()) && le(last.data() + last.size(), end)) {
      return {last.data(), last.size()};
    }
    partial_.append(last.data(), last.size());
    return d_.unescaped.emplace_back(std::move(partial_));
  }
  void reset_partial() {
    partial_.clear();
    has_partial_ = false;
  }

  // The same rules as for a parsed document: the field name says the kind, else an object with
  // "caller" and "id" is a channel (channel, peer, caller, forwarded, replace_channel...).
  void add_ref() {
    if (d_.nrefs == detail::EventData::kMaxRefs) return;
    const std::string_view field = ref_.field;
    ResourceRef ref{};
    ref.field = field;
    if (field == "playback") {
      ref.kind = ResourceKind::playback;
      ref.id = ref_.id;
    } else if (field == "recording") {
      ref.kind = ResourceKind::recording;
      ref.id = ref_.name;
    } else if (field == "device_state") {
      ref.kind = ResourceKind::device_state;
      ref.id = ref_.name;
    } else if (field == "endpoint") {
      if (!d_.endpoint_key.empty()) return;
      d_.endpoint_key.append(ref_.technology);
      d_.endpoint_key.push_back('/');
      d_.endpoint_key.append(ref_.resource);
      ref.kind = ResourceKind::endpoint;
      ref.id = d_.endpoint_key;
    } else if (field == "bridge" || ends_with(field, "_bridge") || field == "bridge_from") {
      ref.kind = ResourceKind::bridge;
      ref.id = ref_.id;
    } else if (ref_.has_caller && ref_.has_id) {
      ref.kind = ResourceKind::channel;
      ref.id = ref_.id;
    } else {
      return;
    }
    if (!ref.id.empty()) d_.refs[d_.nrefs++] = ref;
  }

  detail::EventData& d_;
  int depth_ = 0;
  bool top_is_object_ = false;
  bool in_ref_ = false;
  std::string_view key_;        // the current top-level key
  std::string_view inner_key_;  // the current key inside a top-level object field
  Candidate ref_;
  std::string partial_;
  bool has_partial_ = false;
};

// Finds string members by path (object members only) in one pass, and stops once every
// path has been found: what Event::find_strings does when no document has been built.
class PathScanner {
 public:
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t kMaxDepth = 8;

  PathScanner(const std::vector<std::vector<std::string>>& paths, std::span<std::string> out)
      : paths_(paths), out_(out), found_(paths.size(), false) {}

  bool on_document_begin(boost::system::error_code&) { return true; }
  bool on_document_end(boost::system::error_code&) { return true; }
  bool on_object_begin(boost::system::error_code&) {
    ++depth_;
    return true;
  }
  bool on_object_end(std::size_t, boost::system::error_code&) {
    --depth_;
    return true;
  }
  bool on_array_begin(boost::system::error_code&) {
    ++depth_;
    ++arrays_;
    return true;
  }
  bool on_array_end(std::size_t, boost::system::error_code&) {
    --depth_;
    --arrays_;
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, boost::system::error_code&) {
    partial_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, boost::system::error_code&) {
    if (depth_ >= 1 && static_cast<std::size_t>(depth_) <= kMaxDepth) {
      auto& key = keys_[static_cast<std::size_t>(depth_ - 1)];
      key.assign(partial_);
      key.append(s.data(), s.size());
    }
    partial_.clear();
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, boost::system::error_code&) {
    partial_.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, boost::system::error_code&) {
    bool more = true;
    if (arrays_ == 0 && static_cast<std::size_t>(depth_) <= kMaxDepth) {
      for (std::size_t i = 0; i < paths_.size(); ++i) {
        if (!found_[i] && matches(paths_[i])) {
          out_[i].assign(partial_);
          out_[i].append(s.data(), s.size());
          found_[i] = true;
          more = ++nfound_ < paths_.size();
        }
      }
    }
    partial_.clear();
    return more;  // false ends the parse early: everything asked for was found
  }
  bool on_number_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, boost::system::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, boost::system::error_code&) { return true; }
  bool on_double(double, json::string_view, boost::system::error_code&) { return true; }
  bool on_bool(bool, boost::system::error_code&) { return true; }
  bool on_null(boost::system::error_code&) { return true; }
  bool on_comment_part(json::string_view, boost::system::error_code&) { return true; }
  bool on_comment(json::string_view, boost::system::error_code&) { return true; }

 private:
  bool matches(const std::vector<std::string>& path) const {
    if (path.size() != static_cast<std::size_t>(depth_)) return false;
    for (std::size_t d = 0; d < path.size(); ++d) {
      if (keys_[d] != path[d]) return false;
    }
    return true;
  }

  const std::vector<std::vector<std::string>>& paths_;
  std::span<std::string> out_;
  std::vector<bool> found_;
  std::size_t nfound_ = 0;
  int depth_ = 0;
  int arrays_ = 0;  // members inside arrays are never matched
  std::array<std::string, kMaxDepth> keys_;
  std::string partial_;
};

// "/channel/caller/number" → {"channel", "caller", "number"} (RFC 6901: ~1 is '/', ~0 is '~').
std::vector<std::string> split_pointer(std::string_view pointer) {
  if (pointer.empty() || pointer.front() != '/') {
    throw std::invalid_argument("ari: JSON pointer '" + std::string(pointer) + "' does not start with '/'");
  }
  std::vector<std::string> path;
  std::size_t start = 1;
  for (;;) {
    const auto slash = pointer.find('/', start);
    std::string segment;
    const auto raw = pointer.substr(start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '~' && i + 1 < raw.size() && (raw[i + 1] == '0' || raw[i + 1] == '1')) {
        segment.push_back(raw[i + 1] == '0' ? '~' : '/');
        ++i;
      } else {
        segment.push_back(raw[i]);
      }
    }
    path.push_back(std::move(segment));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return path;
}

}  // namespace

std::string_view to_string(ResourceKind kind) noexcept {
  switch (kind) {
    case ResourceKind::channel: return "channel";
    case ResourceKind::bridge: return "bridge";
    case ResourceKind::playback: return "playback";
    case ResourceKind::recording: return "recording";
    case ResourceKind::endpoint: return "endpoint";
    case ResourceKind::device_state: return "device_state";
  }
  return "?";
}

Event Event::parse(std::string_view text, boost::system::error_code& ec) {
  ec.clear();
  auto data = std::make_shared<detail::EventData>();
  data->text.assign(text);
  json::basic_parser<Scanner> parser(json::parse_options{}, *data);
  const auto used = parser.write_some(false, data->text.data(), data->text.size(), ec);
  if (ec) return {};
  if (used != data->text.size()) {
    ec = json::error::extra_data;
    return {};
  }
  if (!parser.handler().top_is_object() || data->type_name.empty()) {
    ec = errc::malformed_event;
    return {};
  }
  data->type = event_type_from_string(data->type_name);
  Event e;
  e.d_ = std::move(data);
  return e;
}

EventType Event::type() const noexcept { return d_ ? d_->type : EventType::unknown; }
std::string_view Event::type_name() const noexcept { return d_ ? d_->type_name : std::string_view{}; }
std::string_view Event::application() const noexcept { return d_ ? d_->application : std::string_view{}; }
std::string_view Event::timestamp() const noexcept { return d_ ? d_->timestamp : std::string_view{}; }

const boost::json::value& Event::value() const noexcept {
  static const boost::json::value null_value;
  if (!d_) return null_value;
  if (!d_->dom) {
    // The text was validated by the scan: parsing it again cannot fail.
    auto dom = std::make_unique<detail::EventDom>();
    boost::system::error_code ec;
    dom->doc = boost::json::parse(d_->text, ec, dom->doc.storage());
    d_->dom = std::move(dom);
  }
  return d_->dom->doc;
}

const boost::json::object& Event::json() const noexcept {
  static const boost::json::object empty;
  const auto* o = value().if_object();
  return o != nullptr ? *o : empty;
}

void Event::find_strings(std::span<const std::string_view> pointers, std::span<std::string> out) const {
  if (out.size() != pointers.size()) throw std::invalid_argument("ari: find_strings needs one output per pointer");
  std::vector<std::vector<std::string>> paths;
  paths.reserve(pointers.size());
  for (const auto pointer : pointers) paths.push_back(split_pointer(pointer));
  for (auto& o : out) o.clear();
  if (!d_) return;
  if (d_->dom) {  // already built: look there
    for (std::size_t i = 0; i < paths.size(); ++i) {
      const boost::json::value* v = &d_->dom->doc;
      for (const auto& key : paths[i]) {
        const auto* o = v->if_object();
        v = o != nullptr ? o->if_contains(key) : nullptr;
        if (v == nullptr) break;
      }
      if (v != nullptr && v->is_string()) out[i].assign(v->get_string().data(), v->get_string().size());
    }
    return;
  }
  json::basic_parser<PathScanner> parser(json::parse_options{}, paths, out);
  boost::system::error_code ec;  // the text was validated when the event was parsed; an early stop sets ec
  parser.write_some(false, d_->text.data(), d_->text.size(), ec);
}

std::span<const ResourceRef> Event::resources() const noexcept {
  if (!d_) return {};
  return {d_->refs.data(), d_->nrefs};
}

std::string_view Event::id(ResourceKind kind) const noexcept {
  for (const auto& r : resources()) {
    if (r.kind == kind) return r.id;
  }
  return {};
}

bool Event::ends(const ResourceRef& ref) const noexcept {
  switch (ref.kind) {
    case ResourceKind::channel:
      return ref.field == "channel" && (type() == EventType::stasis_end || type() == EventType::channel_destroyed);
    case ResourceKind::bridge: return ref.field == "bridge" && type() == EventType::bridge_destroyed;
    case ResourceKind::playback: return type() == EventType::playback_finished;
    case ResourceKind::recording:
      return type() == EventType::recording_finished || type() == EventType::recording_failed;
    case ResourceKind::endpoint:
    case ResourceKind::device_state: return false;
  }
  return false;
}

}  // namespace astmrf::ari
