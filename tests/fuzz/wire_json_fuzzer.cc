// Fuzz target: arbitrary bytes as the body of a CML API response, through ParseJson and every
// decoder of api/wire_types.h (models, builds, deployments, registered models and their
// versions, runtimes, each list response, validate_api_key and the runtimeError body).
//
// Contract checked: nothing throws or crashes; text that is not JSON is INVALID_ARGUMENT; each
// decoder returns OK or INVALID_ARGUMENT with a message; every message can go into JSON.
//
// Every decoder sees every input instead of one picked by the first byte: decoding is cheap next
// to parsing, a body shaped for one decoder is a type error for the others within a field or
// two, and the seed corpus stays plain JSON that real servers sent.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

#include "api/wire_types.h"
#include "common/status.h"
#include "tests/fuzz/wire_decoders.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using cmlr::common::StatusCode;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  cmlr::common::StatusOr<nlohmann::json> parsed = cmlr::api::ParseJson(text);
  if (!parsed.ok()) {
    cmlr::fuzz::Check(parsed.status().code() == StatusCode::kInvalidArgument, "ParseJson",
                      parsed.status().ToString());
    cmlr::fuzz::CheckJsonSafe("ParseJson", parsed.status());
    return 0;
  }
  for (const cmlr::fuzz::Decoder& decoder : cmlr::fuzz::kDecoders) {
    cmlr::fuzz::CheckDecoded(decoder, decoder.decode(*parsed));
  }
  return 0;
}
