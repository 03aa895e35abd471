# libFuzzer (tests/fuzz): clang only. Every project target gets the coverage instrumentation
# that steers libFuzzer (-fsanitize=fuzzer-no-link), through the same interface target as the
# warnings and sanitizers; only the fuzz targets link libFuzzer and its main() (cmlr_add_fuzzer
# in tests/fuzz/CMakeLists.txt). Run them with scripts/fuzz.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "CMLR_FUZZ needs clang, which ships libFuzzer: use the preset `fuzz`")
endif()
target_compile_options(cmlr_build_options INTERFACE -fsanitize=fuzzer-no-link)
if(CMLR_SANITIZE MATCHES "undefined")
  # Clang 14's -fsanitize=function (part of `undefined`) cannot emit its prologue data for
  # coroutine frames ("Cannot represent a difference across sections"); every other check of
  # UBSan stays on.
  target_compile_options(cmlr_build_options INTERFACE -fno-sanitize=function)
endif()
