#pragma once

#include <string>

#include "config/model_deployment.h"

namespace cmlr::config {

// The canonical text of a normalised spec: every field of ModelDeploymentSpec except `digest`
// and `source`, in a fixed order, strings quoted and escaped, numbers in their shortest exact
// form, durations and times in nanoseconds. Labels are included: a label edit is a new
// generation (one cheap re-observation, no CML write) so that status always shows the labels
// of the spec it reports on. Two documents that differ only in key order, comments, quoting
// or formatting (or in spelling the same value differently, "4Gi" and "4096Mi") give the same
// text. Fields added after the first release (sync.rollback, verify) appear only when they
// differ from their default, so that the digests of specs that do not use them stay the same.
std::string CanonicalText(const ModelDeploymentSpec& spec);

// Lowercase hex SHA-256 of CanonicalText(spec): the model's generation.
std::string ComputeDigest(const ModelDeploymentSpec& spec);

}  // namespace cmlr::config
