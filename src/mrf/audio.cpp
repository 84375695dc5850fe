// Placeholder until the audio helpers land (issue 19).
#include <astmrf/mrf/audio.hpp>
