# Warnings and sanitizers travel through one interface target that every project target links
# privately, never through global flags.
add_library(cmlr_build_options INTERFACE)
add_library(cmlr::build_options ALIAS cmlr_build_options)

target_compile_options(cmlr_build_options INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wimplicit-fallthrough -Wformat=2
  # Options and wire types are aggregates filled with designated initializers (house style 7);
  # members left out take their defaults on purpose.
  -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  # GCC 12 reports false positives inside Boost.Asio coroutine frames and std::variant.
  target_compile_options(cmlr_build_options INTERFACE
    -Wno-maybe-uninitialized -Wno-mismatched-new-delete -Wno-dangling-pointer)
endif()
if(CMLR_WERROR)
  target_compile_options(cmlr_build_options INTERFACE -Werror)
endif()

if(CMLR_SANITIZE)
  target_compile_options(cmlr_build_options INTERFACE
    -fsanitize=${CMLR_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(cmlr_build_options INTERFACE -fsanitize=${CMLR_SANITIZE})
endif()

# Precompiled headers for the heavy third-party headers most translation units include
# (Asio/Beast, nlohmann/json, fmt): a clean build on two cores takes about half as long.
option(CMLR_PCH "Build with precompiled headers" ON)
function(cmlr_precompile target)
  if(CMLR_PCH)
    target_precompile_headers(${target} PRIVATE
      <boost/asio.hpp> <boost/beast/core.hpp> <boost/beast/http.hpp> <nlohmann/json.hpp>
      <fmt/format.h> <map> <memory> <optional> <string> <vector> ${ARGN})
  endif()
endfunction()
