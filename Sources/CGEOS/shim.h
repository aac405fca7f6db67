// Only the re-entrant (_r) API: every call names the context it runs in, so
// each thread or task can own its own GEOS context.
#define GEOS_USE_ONLY_R_API
#include <geos_c.h>
