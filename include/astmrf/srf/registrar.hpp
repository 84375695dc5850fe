// Registrar: REGISTER handling (RFC 3261 10.3) for Srf applications — bindings per
// address-of-record kept in a RegistrationStore, expiry on the executor, a lookup for
// calls to registered users, and events when bindings change. It does no
// authentication: put a middleware (e.g. srf::DigestAuth) in front of it; it checks that the
// user that middleware authenticated may change the AOR, and that the domain is one it serves.
//
//   auto registrar = std::make_shared<srf::Registrar>(ex, srf::RegistrarOptions{},
//       std::make_shared<srf::MemoryRegistrationStore>(ex));
//   srf.register_(registrar->handler());
//   auto contacts = co_await registrar->async_lookup("sip:alice@example.com", use_awaitable);
#pragma once

#include <astmrf/detail/async.hpp>
#include <astmrf/detail/signal.hpp>
#include <astmrf/srf/errors.hpp>
#include <astmrf/srf/request.hpp>
#include <astmrf/srf/srf.hpp>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace astmrf::srf {

/// One binding of an address-of-record to a contact (RFC 3261 10.3).
struct Binding {
  /// The contact URI, as the UA sent it (without header parameters).
  std::string contact;
  /// The Contact's header parameters other than expires (";q=0.5;+sip.instance=..."), echoed in the 200.
  std::string params;
  /// The q-value in thousandths (1000 = q=1.0, the default).
  int q{1000};
  /// When the binding expires (absolute, so that a shared store can hold it).
  std::chrono::system_clock::time_point expires_at{};
  /// The Call-ID of the REGISTER that made or last refreshed it.
  std::string call_id;
  /// Its CSeq number.
  std::uint32_t cseq{0};
  /// The Path header values (RFC 3327), in order: the route to reach the contact.
  std::vector<std::string> path;
  /// The +sip.instance value (RFC 5626), without quotes; empty when absent.
  std::string instance_id;
  /// The reg-id (RFC 5626); nullopt when absent.
  std::optional<std::uint32_t> reg_id;
  /// Where the REGISTER came from ("udp:1.2.3.4:5060"; empty when unknown).
  std::string source;
};

/// A store of bindings: one list per address-of-record. Every operation is asynchronous
/// (a shared store, e.g. Redis, answers later) and completes exactly once, never inside the
/// call. The Registrar serialises its own operations per AOR.
class RegistrationStore {
 public:
  /// Completion of a read: an error, or the AOR's bindings (empty when none).
  using GetHandler = std::function<void(std::exception_ptr, std::vector<Binding>)>;
  /// Completion of a write: an error or null.
  using PutHandler = std::function<void(std::exception_ptr)>;
  virtual ~RegistrationStore() = default;
  /// Reads the bindings of `aor` (expired ones may be included: the Registrar filters).
  virtual void get(const std::string& aor, GetHandler done) = 0;
  /// Replaces the bindings of `aor` with `bindings` (empty: removes the AOR).
  virtual void put(const std::string& aor, std::vector<Binding> bindings, PutHandler done) = 0;
};

/// The in-memory RegistrationStore: a map on the executor; completions are posted there.
class MemoryRegistrationStore : public RegistrationStore {
 public:
  /// Completions run on `executor`.
  explicit MemoryRegistrationStore(boost::asio::any_io_executor executor) : executor_(std::move(executor)) {}
  /// See RegistrationStore::get.
  void get(const std::string& aor, GetHandler done) override;
  /// See RegistrationStore::put.
  void put(const std::string& aor, std::vector<Binding> bindings, PutHandler done) override;
  /// How many AORs have bindings (for tests and metrics).
  [[nodiscard]] std::size_t size() const noexcept { return bindings_.size(); }

 private:
  boost::asio::any_io_executor executor_;
  std::map<std::string, std::vector<Binding>> bindings_;
};

/// Options of a Registrar.
struct RegistrarOptions {
  /// Shorter non-zero expirations get 423 Interval Too Brief with Min-Expires (RFC 3261 10.3 step 7).
  std::chrono::seconds min_expires{60};
  /// Longer expirations are shortened to this.
  std::chrono::seconds max_expires{7200};
  /// The expiration when the REGISTER gives none (no expires parameter, no Expires header).
  std::chrono::seconds default_expires{3600};
  /// At most this many bindings per AOR; more get 403 and nothing changes. 0: no limit.
  std::size_t max_bindings{32};
  /// The domains it keeps bindings for (RFC 3261 10.3 step 1), matched case-insensitively with
  /// the Request-URI's host: a REGISTER for another domain gets 404 and changes nothing. Empty:
  /// every domain.
  std::vector<std::string> domains{};
  /// Whether an authenticated user may change the bindings of an AOR (step 3), asked for each
  /// REGISTER that an authenticating middleware passed on (Request::authenticated_user() set);
  /// false: 403 and nothing changes. Empty: the AOR's user part must be that user. A REGISTER
  /// without an authenticated user is not checked (nothing in front asked for one).
  std::function<bool(std::string_view user, std::string_view aor)> authorize{};
};

/// What happened to a binding (Registrar::on_change).
enum class BindingChangeKind : std::uint8_t {
  added,      ///< a new binding
  refreshed,  ///< an existing binding re-registered (its expiry, q or Path may change)
  removed,    ///< removed by a REGISTER (expires=0, `*`) or replaced by a new one of the same instance
  expired,    ///< its expiry passed
};

/// A binding change: the AOR, the binding (as it is now, or as it was for removed/expired) and what happened.
struct BindingChange {
  /// The normalised address-of-record ("sip:alice@example.com").
  std::string aor;
  /// The binding.
  Binding binding;
  /// What happened.
  BindingChangeKind kind{BindingChangeKind::added};
};

/// The answer the Registrar makes to one REGISTER (Registrar::process).
struct RegisterReply {
  /// The status: 200, or 400 / 403 / 404 / 416 / 420 / 423 / 500.
  int status{200};
  /// The reason phrase (the cause for errors, e.g. "Malformed Contact").
  std::string reason;
  /// The headers to send: Contact(s), Date, Path, Min-Expires, Unsupported.
  HeaderList headers;
};

/// REGISTER handling per RFC 3261 10.3 on a RegistrationStore: add, refresh and remove
/// bindings (expires=0 or `*` with Expires: 0), Call-ID/CSeq ordering (an out-of-order
/// REGISTER gets 500), 423 + Min-Expires, q-values, Path (RFC 3327, echoed with Supported:
/// path), instance-id (RFC 5626: a new binding with the same +sip.instance and reg-id replaces
/// the old). Bindings are removed when they expire (a timer on the executor per AOR). A bad
/// REGISTER gets 400 and changes nothing. Belongs to its executor. Keep it alive while its
/// handler is installed (a handler that outlives it answers 503, and so do REGISTERs still
/// pending when it goes).
class Registrar {
 public:
  /// A registrar on `executor` keeping its bindings in `store`.
  Registrar(boost::asio::any_io_executor executor, RegistrarOptions options, std::shared_ptr<RegistrationStore> store);
  ~Registrar();
  Registrar(const Registrar&) = delete;
  Registrar& operator=(const Registrar&) = delete;

  /// An srf::Handler for Srf::register_ (answers every REGISTER it gets).
  [[nodiscard]] Handler handler();
  /// Handles one REGISTER: answers `res` once the store has the result.
  void handle(Request req, Response res);
  /// Processes one REGISTER message (`source` as Request::source(), `authenticated_user` as
  /// Request::authenticated_user()); `done` gets the reply, never inside the call. What handle()
  /// does without a Response (for tests and other backends).
  void process(const sip::Message& msg, std::string source, std::function<void(RegisterReply)> done,
               std::string_view authenticated_user = {});

  /// Completes with `(std::exception_ptr, std::vector<Binding>)`: the live bindings of the AOR
  /// of `aor_or_uri` (any SIP URI of it, parameters ignored), highest q first, then the most
  /// recently registered. An unparsable URI fails with srf::Error; a store failure with its error.
  /// Cancelled, it completes with operation_aborted.
  template <typename CompletionToken>
  auto async_lookup(std::string aor_or_uri, CompletionToken&& token) {
    return boost::asio::async_initiate<CompletionToken, void(std::exception_ptr, std::vector<Binding>)>(
        [this](auto handler, std::string u) { start_lookup(std::move(u), LookupHandler(std::move(handler))); }, token,
        std::move(aor_or_uri));
  }

  /// Calls `callback` for each binding change until the connection is dropped.
  [[nodiscard]] astmrf::detail::SignalConnection on_change(std::function<void(const BindingChange&)> callback);

  /// The normalised AOR of a URI (RFC 3261 10.3 step 5: "sip:user@host[:port]", parameters
  /// removed, escapes resolved, host lower-case; sips becomes sip); nullopt when it is no
  /// sip/sips/tel URI.
  [[nodiscard]] static std::optional<std::string> normalise_aor(std::string_view uri);

  /// The registrar's executor.
  [[nodiscard]] boost::asio::any_io_executor get_executor() const;

 private:
  using LookupHandler = boost::asio::any_completion_handler<void(std::exception_ptr, std::vector<Binding>)>;
  void start_lookup(std::string aor_or_uri, LookupHandler handler);
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace astmrf::srf
