# cmlr_daemon_lib: the daemon's testable pieces (issue #7): the desired-state watcher, the
# process metrics collectable and the `status` table. Included from daemon/CMakeLists.txt, and
# from tests/daemon/CMakeLists.txt when the daemon folder does not include it.
add_library(cmlr_daemon_lib
  ${CMAKE_CURRENT_LIST_DIR}/desired_state_watcher.cc
  ${CMAKE_CURRENT_LIST_DIR}/process_metrics.cc
  ${CMAKE_CURRENT_LIST_DIR}/status_table.cc)
add_library(cmlr::daemon_lib ALIAS cmlr_daemon_lib)
target_include_directories(cmlr_daemon_lib PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(cmlr_daemon_lib
  PUBLIC cmlr::common cmlr::config prometheus-cpp::core spdlog::spdlog fmt::fmt
         nlohmann_json::nlohmann_json
  PRIVATE cmlr::build_options)
cmlr_precompile(cmlr_daemon_lib)
