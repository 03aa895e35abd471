#pragma once

#include <string_view>

namespace cmlr::controllers {

// Why a model is in the state it is in: the `reason` of its conditions (design section 5,
// CamelCase on the wire). One vocabulary for the planner, the reconciler, status and metrics,
// so no component ever compares reason text.
enum class Reason {
  // In the desired state.
  kSynced,
  kScaledToZero,
  kSuspended,
  kPruned,
  // Writing.
  kRegisteringModelVersion,
  kCreatingModel,
  kUpdatingModel,
  kCreatingBuild,
  kRetryingBuild,
  kCreatingDeployment,
  kRetryingDeployment,
  kUndoingDrift,
  kStoppingOldDeployment,
  kScalingToZero,
  kPruning,
  // Waiting on CML.
  kBuildInProgress,
  kDeploymentInProgress,
  // Degraded while waiting.
  kBuildTimeout,
  kDeploymentTimeout,
  // Needs a change of the spec (or of CML) or a retry.
  kRegisteredModelVersionNotFound,
  kRuntimeNotFound,
  kBuildFailed,
  kDeploymentFailed,
  // Reported, not written.
  kImmutableFieldChanged,
  kDriftDetected,
  // A CML call failed (set by the reconciler, not the planner).
  kAuthenticationFailed,
  kCmlUnavailable,
  kReconcileError,
};

// The CamelCase name ("BuildInProgress").
std::string_view ReasonName(Reason reason);

}  // namespace cmlr::controllers
