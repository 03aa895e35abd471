# syntax=docker/dockerfile:1
# cml-reconciler container: build on Debian 12 with the project's own install script and CMake
# preset (the commands of the README and CI, nothing else), run on debian:12-slim with only the
# runtime libraries. Build: docker build -t cml-reconciler:0.1.0 .
# Run: see deploy/README.md (Kubernetes sidecar next to git-sync) or
#   docker run -v "$PWD/models:/desired:ro" -v "$PWD/api-key:/run/secrets/cml-api-key:ro" \
#     -e CML_API_KEY_FILE=/run/secrets/cml-api-key -e CML_URL=https://ml-xxxx.example.cloudera.site \
#     -p 9464:9464 cml-reconciler:0.1.0

FROM debian:12 AS build
WORKDIR /src
# The install script first, alone, so that the dependency layer survives source changes.
COPY scripts/install-deps scripts/install-deps
RUN ./scripts/install-deps
COPY . .
RUN cmake --preset release && cmake --build --preset release

FROM debian:12-slim
# The shared libraries the binaries link (checked against the built binaries by
# tests/deploy/check_dockerfile.py) and the system trust store for TLS to CML.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates \
        libssl3 \
        libyaml-cpp0.7 \
        libspdlog1.10 \
        libfmt9 \
        libprometheus-cpp-core1.0 \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 65532 cmlr \
    && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin cmlr
COPY --from=build /src/build/release/daemon/cml-reconciler /usr/local/bin/cml-reconciler
COPY --from=build /src/build/release/emulator/cml-emulator /usr/local/bin/cml-emulator
# Fails the image build when a runtime library is missing.
RUN ["/usr/local/bin/cml-reconciler", "version"]
# Numeric, so that Kubernetes can verify runAsNonRoot without a passwd lookup.
USER 65532:65532
# Where to mount the desired state by default. The API key file is not defaulted, so that
# CDSW_APIV2_KEY keeps working as the fallback design.md section 6 describes.
ENV CMLR_DESIRED=/desired
EXPOSE 9464
# Exec form: the daemon is PID 1 and receives SIGTERM itself (it exits within 10 s).
ENTRYPOINT ["/usr/local/bin/cml-reconciler", "run", "--listen", "0.0.0.0:9464"]
