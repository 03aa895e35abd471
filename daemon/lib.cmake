# cmlr_daemon_lib: everything of the cml-reconciler executable but main.cc (the command line
# wiring), so that every command and endpoint is in a library the unit tests link. Included
# from daemon/CMakeLists.txt, and from tests/daemon/CMakeLists.txt when the daemon folder does
# not include it.
include(${CMAKE_CURRENT_LIST_DIR}/status_page/status_page.cmake)
add_library(cmlr_daemon_lib
  ${CMAKE_CURRENT_LIST_DIR}/admin_auth.cc
  ${CMAKE_CURRENT_LIST_DIR}/cli_commands.cc
  ${CMAKE_CURRENT_LIST_DIR}/cml_connection.cc
  ${CMAKE_CURRENT_LIST_DIR}/daemon_client.cc
  ${CMAKE_CURRENT_LIST_DIR}/daemon_metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/daemon_options.cc
  ${CMAKE_CURRENT_LIST_DIR}/desired_state_watcher.cc
  ${CMAKE_CURRENT_LIST_DIR}/doctor.cc
  ${CMAKE_CURRENT_LIST_DIR}/doctor_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/heap_trimmer.cc
  ${CMAKE_CURRENT_LIST_DIR}/event_stream.cc
  ${CMAKE_CURRENT_LIST_DIR}/http_endpoints.cc
  ${CMAKE_CURRENT_LIST_DIR}/key_health.cc
  ${CMAKE_CURRENT_LIST_DIR}/logging.cc
  ${CMAKE_CURRENT_LIST_DIR}/notification_events.cc
  ${CMAKE_CURRENT_LIST_DIR}/notifier.cc
  ${CMAKE_CURRENT_LIST_DIR}/plan_apply_commands.cc
  ${CMAKE_CURRENT_LIST_DIR}/plan_report.cc
  ${CMAKE_CURRENT_LIST_DIR}/process_metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/run_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/status_page.cc
  ${CMLR_STATUS_PAGE_SOURCES}
  ${CMAKE_CURRENT_LIST_DIR}/status_table.cc
  ${CMAKE_CURRENT_LIST_DIR}/validate_command.cc
  ${CMAKE_CURRENT_LIST_DIR}/wait_command.cc)
add_library(cmlr::daemon_lib ALIAS cmlr_daemon_lib)
target_include_directories(cmlr_daemon_lib PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(cmlr_daemon_lib
  PUBLIC cmlr::common cmlr::config cmlr::api cmlr::controllers CLI11::CLI11
         prometheus-cpp::core spdlog::spdlog fmt::fmt nlohmann_json::nlohmann_json
  PRIVATE cmlr::build_options)
target_compile_definitions(cmlr_daemon_lib PRIVATE
  CMLR_VERSION="${PROJECT_VERSION}" CMLR_REVISION="${CMLR_REVISION}")
cmlr_precompile(cmlr_daemon_lib)
