// Definition of Client::start_call<T>, explicitly instantiated in generated/call_instances.cpp and
// call_impl.cpp for every result type: decoding is compiled once.
#pragma once

#include "client_impl.hpp"
#include "decode.hpp"

#include <astmrf/ari/generated/models.hpp>

#include <boost/json/parse.hpp>

#include <type_traits>

namespace astmrf::ari {

namespace detail {
template <typename T>
void decode_result(Response& r, T& out) {
  if constexpr (std::is_same_v<T, Response>) {
    out = std::move(r);
  } else if constexpr (std::is_same_v<T, std::string>) {
    out = std::move(r.body);
  } else {
    boost::system::error_code ec;
    auto v = boost::json::parse(r.body, ec);
    if (ec) throw Error(r.status, "malformed JSON in the response: " + ec.message(), "", "");
    decode_field(v, out);
  }
}
}  // namespace detail

template <typename T>
void Client::start_call(Request request, detail::call_handler<T> handler) {
  auto once = astmrf::detail::make_once(std::move(handler), impl_->ex);
  // Cancelled: completes at once (operation_aborted); the late response finds it done.
  once->on_cancel();
  impl_->request(std::move(request), [once](std::exception_ptr e, Response r) {
    if (once->done()) return;
    if constexpr (std::is_void_v<T>) {
      (*once)(e);
    } else {
      T value{};
      if (!e) {
        try {
          detail::decode_result(r, value);
        } catch (...) {
          e = std::current_exception();
        }
      }
      (*once)(e, std::move(value));
    }
  });
}

}  // namespace astmrf::ari
