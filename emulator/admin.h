#pragma once

#include <string_view>

#include "common/http_server.h"

namespace cmlr::emulator {

class Emulator;

// The admin API under /_emulator/ (no API key needed):
//   GET  /_emulator/state                    every object, in wire encoding, with "quirks"
//                                            (QuirksToJson) and "history_limit"
//   GET  /_emulator/calls                    CallRecorder::ToJson
//   DELETE /_emulator/calls                  clears the call counts
//   POST /_emulator/reset                    back to the fixture, counts cleared, start-up
//                                            faults and quirks
//   GET|PUT /_emulator/faults                fault settings (FaultSettingsToJson's keys)
//   GET|PUT /_emulator/quirks                QuirksToJson; PUT takes ParseQuirksJson's body and
//                                            replaces the whole set
//   POST /_emulator/drift/stop_deployment    {"deployment_id"}: stopped at once, not counted
//   POST /_emulator/drift/create_deployment  {"project_id", "model_id", "build_id", "cpu",
//                                             "memory", "nvidia_gpus", "replicas",
//                                             "environment"}: created as the project owner
// Errors use the runtimeError shape.
common::HttpResponse HandleAdminRequest(Emulator& emulator, const common::HttpRequest& request,
                                        std::string_view path);

}  // namespace cmlr::emulator
