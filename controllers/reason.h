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
  kRollingBack,
  kScalingToZero,
  kPruning,
  // Waiting on CML.
  kVersionRegistering,
  kWriteNotYetVisible,
  kBuildInProgress,
  kDeploymentInProgress,
  kVerifying,
  // Degraded while waiting.
  kBuildTimeout,
  kDeploymentTimeout,
  // Needs a change of the spec (or of CML) or a retry.
  kRegisteredModelVersionNotFound,
  kVersionRegistrationFailed,
  kRuntimeNotFound,
  kBuildFailed,
  kDeploymentFailed,
  kVerificationFailed,
  kRolledBack,
  // CML did not behave as the API promises (design 4a): no more writes until a spec change or
  // a retry.
  kIncompleteCmlResponse,
  kWriteNotObserved,
  kUpdateNotApplied,
  kWriteBudgetExhausted,
  // Reported, not written.
  kImmutableFieldChanged,
  kDriftDetected,
  kSelfHealBudgetExhausted,
  // A CML call failed (set by the reconciler, not the planner).
  kAuthenticationFailed,
  kCmlUnavailable,
  kReconcileError,
  kCount,  // not a reason: the number of reasons
};

// The CamelCase name ("BuildInProgress").
std::string_view ReasonName(Reason reason);

}  // namespace cmlr::controllers
