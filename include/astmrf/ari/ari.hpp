// Umbrella header of the ARI client.
#pragma once

#include <astmrf/ari/catalog.hpp>
#include <astmrf/ari/client.hpp>
#include <astmrf/ari/error.hpp>
#include <astmrf/ari/event.hpp>
#include <astmrf/ari/generated/models.hpp>
#include <astmrf/ari/generated/operations.hpp>
#include <astmrf/ari/helpers.hpp>
#include <astmrf/ari/ids.hpp>
#include <astmrf/ari/options.hpp>
#include <astmrf/ari/request.hpp>
