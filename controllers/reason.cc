#include "controllers/reason.h"

namespace cmlr::controllers {

std::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kSynced:
      return "Synced";
    case Reason::kScaledToZero:
      return "ScaledToZero";
    case Reason::kSuspended:
      return "Suspended";
    case Reason::kPruned:
      return "Pruned";
    case Reason::kRegisteringModelVersion:
      return "RegisteringModelVersion";
    case Reason::kCreatingModel:
      return "CreatingModel";
    case Reason::kUpdatingModel:
      return "UpdatingModel";
    case Reason::kCreatingBuild:
      return "CreatingBuild";
    case Reason::kRetryingBuild:
      return "RetryingBuild";
    case Reason::kCreatingDeployment:
      return "CreatingDeployment";
    case Reason::kRetryingDeployment:
      return "RetryingDeployment";
    case Reason::kUndoingDrift:
      return "UndoingDrift";
    case Reason::kStoppingOldDeployment:
      return "StoppingOldDeployment";
    case Reason::kScalingToZero:
      return "ScalingToZero";
    case Reason::kPruning:
      return "Pruning";
    case Reason::kBuildInProgress:
      return "BuildInProgress";
    case Reason::kDeploymentInProgress:
      return "DeploymentInProgress";
    case Reason::kBuildTimeout:
      return "BuildTimeout";
    case Reason::kDeploymentTimeout:
      return "DeploymentTimeout";
    case Reason::kRegisteredModelVersionNotFound:
      return "RegisteredModelVersionNotFound";
    case Reason::kRuntimeNotFound:
      return "RuntimeNotFound";
    case Reason::kBuildFailed:
      return "BuildFailed";
    case Reason::kDeploymentFailed:
      return "DeploymentFailed";
    case Reason::kImmutableFieldChanged:
      return "ImmutableFieldChanged";
    case Reason::kDriftDetected:
      return "DriftDetected";
    case Reason::kAuthenticationFailed:
      return "AuthenticationFailed";
    case Reason::kCmlUnavailable:
      return "CmlUnavailable";
    case Reason::kReconcileError:
      break;
  }
  return "ReconcileError";
}

}  // namespace cmlr::controllers
