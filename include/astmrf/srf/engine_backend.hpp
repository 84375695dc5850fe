// The embedded SIP engine as Srf's signaling backend (library astmrf::srf_engine).
// This is the one srf header that knows the engine: an application that runs Srf
// over drachtio-server (astmrf::srf_drachtio) neither includes nor links the engine.
//
//   sip::Engine engine(ioc.get_executor(), config);
//   srf::Srf app(srf::make_engine_backend(engine));
#pragma once

#include <astmrf/sip/engine/engine.hpp>
#include <astmrf/srf/backend.hpp>

#include <memory>

namespace astmrf::srf {

/// The embedded SIP engine as a SignalingBackend for `Srf(backend)`. The engine must
/// outlive the backend (and so the Srf it is given to).
std::shared_ptr<SignalingBackend> make_engine_backend(sip::Engine& engine);

}  // namespace astmrf::srf
