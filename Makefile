# The README's quick start is `make demo` and `make test`; the other targets are their parts.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help deps release debug test demo format format-check bench soak fuzz tsan clean

help:
	@echo "make demo    build, start the bundled CML emulator and run the daemon against it"
	@echo "make test    build with ASan/UBSan and -Werror, run every test (unit and e2e)"
	@echo "make bench   run the benchmarks of design section 10 (release build)"
	@echo "make soak    30 minutes of edits, drift and faults; RSS and open fds must not grow"
	@echo "make tsan    ThreadSanitizer over the multi-threaded code (scripts/tsan all: whole suite)"
	@echo "make fuzz    libFuzzer on the parser, API decoders and HTTP handling (FUZZ_SECONDS=60 each)"
	@echo "make format  reformat the sources with clang-format"

deps:
	@./scripts/install-deps

release: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release

debug: deps
	@cmake --preset debug >/dev/null
	@cmake --build --preset debug

test: debug
	@ctest --preset debug

demo: release
	@./scripts/demo

bench: release
	@./bench/run

soak: release
	@python3 bench/soak.py

fuzz: deps
	@./scripts/fuzz

tsan: deps
	@./scripts/tsan

format:
	@./scripts/check-format --fix

format-check:
	@./scripts/check-format

clean:
	rm -rf build
