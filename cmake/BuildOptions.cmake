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
  if(CMLR_SANITIZE STREQUAL "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Asio's fenced blocks use atomic_thread_fence, which TSan does not model; GCC 12 says so
    # at every use. Our io_context runs on one thread, so no fence orders anything across
    # threads that TSan would need to see.
    # Optimised, GCC 12 also reports libstdc++'s own std::string code (PR 105329 and kin).
    target_compile_options(cmlr_build_options INTERFACE
      -Wno-tsan -Wno-array-bounds -Wno-stringop-overflow -Wno-restrict)
  endif()
endif()

# Precompiled headers for the heavy third-party headers most translation units include
# (Asio/Beast, nlohmann/json, fmt). One header is compiled once, by `cmlr_pch`, and reused by
# every target (REUSE_FROM): compiling it per target cost about as much as the code itself on a
# two-core machine. The test binaries share a second one that adds GoogleTest
# (tests/CMakeLists.txt). Reuse needs identical compile flags, hence the same build options and
# the same definitions as cmlr_common exports.
option(CMLR_PCH "Build with precompiled headers" ON)
set(CMLR_PCH_HEADERS
  <boost/asio.hpp> <boost/beast/core.hpp> <boost/beast/http.hpp> <nlohmann/json.hpp>
  <fmt/format.h> <map> <memory> <optional> <string> <vector>)

# Declares `name`, an object library whose only job is to compile the precompiled header of
# `headers` with the project's flags.
function(cmlr_add_pch_target name)
  cmake_parse_arguments(ARG "" "" "HEADERS;LIBS" ${ARGN})
  set(source ${PROJECT_BINARY_DIR}/${name}.cc)
  if(NOT EXISTS ${source})
    file(WRITE ${source} "// Compiles the shared precompiled header; no code of its own.\n")
  endif()
  add_library(${name} OBJECT ${source})
  target_link_libraries(${name} PRIVATE Boost::headers OpenSSL::SSL nlohmann_json::nlohmann_json
                                        fmt::fmt ${ARG_LIBS} cmlr::build_options)
  target_compile_definitions(${name} PRIVATE BOOST_ASIO_NO_DEPRECATED)
  target_precompile_headers(${name} PRIVATE ${ARG_HEADERS})
endfunction()

if(CMLR_PCH)
  cmlr_add_pch_target(cmlr_pch HEADERS ${CMLR_PCH_HEADERS})
endif()

# Makes `target` use a shared precompiled header: `cmlr_pch` by default, or the one named by
# REUSE (the tests' one).
function(cmlr_precompile target)
  cmake_parse_arguments(ARG "" "REUSE" "" ${ARGN})
  if(NOT CMLR_PCH)
    return()
  endif()
  if(NOT ARG_REUSE)
    set(ARG_REUSE cmlr_pch)
  endif()
  target_precompile_headers(${target} REUSE_FROM ${ARG_REUSE})
endfunction()
