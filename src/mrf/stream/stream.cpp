// Placeholder until the stream core lands (issue 19).
#include "transport.hpp"
