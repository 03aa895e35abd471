#pragma once

#include "daemon/daemon_options.h"

namespace cmlr::daemon {

// `cml-reconciler run`: the daemon. Exit 0 after SIGTERM/SIGINT, 1 when start-up fails.
int RunDaemon(DaemonOptions options);

// `cml-reconciler plan`: prints what would change; exit 0 nothing, 2 changes, 1 error.
int RunPlan(DaemonOptions options);

// `cml-reconciler apply`: converges once; exit 0 converged, 1 error or timeout, 3 stalled.
int RunApply(DaemonOptions options);

// `cml-reconciler doctor`: read-only checks of a workspace; exit 0 no FAIL, 1 any FAIL.
int RunDoctor(DaemonOptions options);

}  // namespace cmlr::daemon
