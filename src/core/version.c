/* The library version, from CMake's project() line. */
#include <ampc/ampc.h>

#include "ampc_version.h"

const char *ampc_version(void) { return AMPC_VERSION_STRING; }
