# Embeds the status page (index.html, style.css, app.js) into the binary: a custom command runs
# embed.cmake at build time, whenever one of the sources changes, and writes a .cc that
# cmlr_daemon_lib compiles. Sets CMLR_STATUS_PAGE_SOURCES for lib.cmake.
set(cmlr_status_page_dir ${CMAKE_CURRENT_LIST_DIR})
set(cmlr_status_page_cc ${CMAKE_CURRENT_BINARY_DIR}/status_page_assets.cc)
add_custom_command(
  OUTPUT ${cmlr_status_page_cc}
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${cmlr_status_page_dir} -DOUTPUT=${cmlr_status_page_cc}
          -P ${cmlr_status_page_dir}/embed.cmake
  DEPENDS ${cmlr_status_page_dir}/embed.cmake ${cmlr_status_page_dir}/index.html
          ${cmlr_status_page_dir}/style.css ${cmlr_status_page_dir}/app.js
  COMMENT "Embedding the status page (daemon/status_page/)"
  VERBATIM)
set(CMLR_STATUS_PAGE_SOURCES ${cmlr_status_page_cc})
