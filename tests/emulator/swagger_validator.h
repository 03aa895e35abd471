#pragma once

// The emulator tests use the validator shared with api_test (tests/support); this keeps the
// name emulator_test_base.h includes.
#include "tests/support/swagger_validator.h"

namespace cmlr::emulator::testing {

using cmlr::testing::SwaggerValidator;

}  // namespace cmlr::emulator::testing
