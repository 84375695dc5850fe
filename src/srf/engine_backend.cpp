// The embedded SIP engine behind the SignalingBackend interface: thin adapters
// that forward to sip::IncomingRequest, sip::ClientRequest and sip::Dialog.
#include <astmrf/srf/engine_backend.hpp>

namespace astmrf::srf {
namespace {

class EngineDialog final : public BackendDialog {
 public:
  explicit EngineDialog(std::shared_ptr<sip::Dialog> dialog) : dialog_(std::move(dialog)) {}
  std::string id() const override { return dialog_->id(); }
  std::string call_id() const override { return dialog_->call_id(); }
  std::string local_tag() const override { return dialog_->local_tag(); }
  std::string remote_tag() const override { return dialog_->remote_tag(); }
  std::string local_uri() const override { return dialog_->local_uri(); }
  std::string remote_uri() const override { return dialog_->remote_uri(); }
  bool terminated() const override { return dialog_->state() == sip::Dialog::State::terminated; }
  void on_request(BackendRequestHandler handler) override;
  void on_ack(std::function<void(const sip::Message&)> handler) override { dialog_->on_ack(std::move(handler)); }
  void on_end(std::function<void(DialogEndReason)> handler) override { dialog_->on_end(std::move(handler)); }
  std::shared_ptr<BackendClientTransaction> request(RequestSpec spec, BackendResponseHandler handler) override;
  void bye(HeaderList headers) override { dialog_->bye(std::move(headers)); }
  void ack(std::string content_type, std::string body) override {
    dialog_->ack(std::move(content_type), std::move(body));
  }

 private:
  std::shared_ptr<sip::Dialog> dialog_;
};

// One adapter per engine dialog, so that identity is stable across callbacks.
std::shared_ptr<BackendDialog> wrap(const std::shared_ptr<sip::Dialog>& dialog) {
  return dialog ? std::make_shared<EngineDialog>(dialog) : nullptr;
}

class EngineServerTransaction final : public BackendServerTransaction {
 public:
  explicit EngineServerTransaction(std::shared_ptr<sip::IncomingRequest> request) : request_(std::move(request)) {}
  const sip::Message& message() const override { return request_->message(); }
  std::string source() const override { return request_->source().to_string(); }
  bool cancelled() const override { return request_->cancelled(); }
  bool final_sent() const override { return request_->final_sent(); }
  void on_cancel(std::function<void()> handler) override { request_->on_cancel(std::move(handler)); }
  std::shared_ptr<BackendDialog> respond(ResponseSpec response) override {
    return wrap(request_->respond(std::move(response)));
  }
  std::shared_ptr<BackendDialog> dialog() const override { return wrap(request_->dialog()); }

 private:
  std::shared_ptr<sip::IncomingRequest> request_;
};

class EngineClientTransaction final : public BackendClientTransaction {
 public:
  explicit EngineClientTransaction(std::shared_ptr<sip::ClientRequest> request) : request_(std::move(request)) {}
  void cancel() override { request_->cancel(); }
  bool local_failure() const override { return request_->local_failure(); }
  std::string dns_error() const override { return request_->dns_error(); }
  bool dns_not_found() const override { return request_->dns_not_found(); }

 private:
  std::shared_ptr<sip::ClientRequest> request_;
};

sip::ResponseHandler adapt(BackendResponseHandler handler) {
  if (!handler) return {};
  return [h = std::move(handler)](const sip::Message& response, const std::shared_ptr<sip::Dialog>& dialog) {
    h(response, wrap(dialog));
  };
}

void EngineDialog::on_request(BackendRequestHandler handler) {
  if (!handler) {
    dialog_->on_request(nullptr);
    return;
  }
  dialog_->on_request([h = std::move(handler)](const std::shared_ptr<sip::IncomingRequest>& request) {
    h(std::make_shared<EngineServerTransaction>(request));
  });
}

std::shared_ptr<BackendClientTransaction> EngineDialog::request(RequestSpec spec, BackendResponseHandler handler) {
  auto request = dialog_->request(std::move(spec), adapt(std::move(handler)));
  return request ? std::make_shared<EngineClientTransaction>(request) : nullptr;
}

class EngineBackend final : public SignalingBackend {
 public:
  explicit EngineBackend(sip::Engine& engine) : engine_(engine) {}
  boost::asio::any_io_executor get_executor() const override { return engine_.get_executor(); }
  void on_request(BackendRequestHandler handler) override {
    engine_.on_request([h = std::move(handler)](const std::shared_ptr<sip::IncomingRequest>& request) {
      h(std::make_shared<EngineServerTransaction>(request));
    });
  }
  std::shared_ptr<BackendClientTransaction> send_request(RequestSpec spec, BackendResponseHandler handler,
                                                         bool manual_ack) override {
    sip::InviteOptions options;
    options.manual_ack = manual_ack;
    options.supported_100rel = true;  // RFC 3262: the engine PRACKs reliable provisionals
    return std::make_shared<EngineClientTransaction>(
        engine_.send_request(std::move(spec), adapt(std::move(handler)), options));
  }

 private:
  sip::Engine& engine_;
};

}  // namespace

std::shared_ptr<SignalingBackend> make_engine_backend(sip::Engine& engine) {
  return std::make_shared<EngineBackend>(engine);
}

}  // namespace astmrf::srf
