#include "controllers/reason.h"

#include <array>

namespace cmlr::controllers {

namespace {

// In the order of the enum.
constexpr std::array<std::string_view, static_cast<std::size_t>(Reason::kCount)> kNames = {
    "Synced",
    "ScaledToZero",
    "Suspended",
    "Pruned",
    "RegisteringModelVersion",
    "CreatingModel",
    "UpdatingModel",
    "CreatingBuild",
    "RetryingBuild",
    "CreatingDeployment",
    "RetryingDeployment",
    "UndoingDrift",
    "StoppingOldDeployment",
    "RollingBack",
    "ScalingToZero",
    "Pruning",
    "VersionRegistering",
    "WriteNotYetVisible",
    "BuildInProgress",
    "DeploymentInProgress",
    "Verifying",
    "BuildTimeout",
    "DeploymentTimeout",
    "RegisteredModelVersionNotFound",
    "VersionRegistrationFailed",
    "RuntimeNotFound",
    "BuildFailed",
    "DeploymentFailed",
    "VerificationFailed",
    "RolledBack",
    "IncompleteCmlResponse",
    "WriteNotObserved",
    "UpdateNotApplied",
    "WriteBudgetExhausted",
    "ImmutableFieldChanged",
    "DriftDetected",
    "SelfHealBudgetExhausted",
    "AuthenticationFailed",
    "CmlUnavailable",
    "ReconcileError",
};

}  // namespace

std::string_view ReasonName(Reason reason) {
  const auto index = static_cast<std::size_t>(reason);
  return index < kNames.size() ? kNames[index] : "ReconcileError";
}

}  // namespace cmlr::controllers
