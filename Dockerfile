# syntax=docker/dockerfile:1
# cml-reconciler container: build on Debian 12 with the project's own install script and CMake
# preset (the commands of the README and CI, nothing else), strip the release binaries, run on
# Debian 12 slim with only the runtime libraries.
#
#   docker build -t cml-reconciler:0.1.0 .                            the daemon (default target)
#   docker build --target emulator -t cml-emulator:0.1.0 .            the CML emulator, for tests
#
#   docker run --rm cml-reconciler:0.1.0 version
#   docker run --rm -v "$PWD/models:/desired:ro" cml-reconciler:0.1.0 validate /desired
#   docker run -v "$PWD/models:/desired:ro" -v "$PWD/api-key:/run/secrets/cml-api-key:ro" \
#     -e CML_API_KEY_FILE=/run/secrets/cml-api-key -e CML_URL=https://ml-xxxx.example.cloudera.site \
#     -p 9464:9464 cml-reconciler:0.1.0                               (CMD: run --listen 0.0.0.0:9464)
#
# Base images are pinned to Debian's dated snapshot tags (never re-pushed: the next rebuild gets
# the next date). To pin by digest as well, pass e.g.
#   --build-arg RUNTIME_IMAGE=debian:bookworm-20251229-slim@sha256:<digest>
# with the digest from `docker buildx imagetools inspect debian:bookworm-20251229-slim`.
ARG BUILD_IMAGE=debian:bookworm-20251229
ARG RUNTIME_IMAGE=debian:bookworm-20251229-slim

FROM ${BUILD_IMAGE} AS build
WORKDIR /src
# The install script first, alone, so that the dependency layer survives source changes.
COPY scripts/install-deps scripts/install-deps
# The build stage runs no tests: no Chromium for the browser tests.
ENV CMLR_NO_BROWSER=1
RUN ./scripts/install-deps
COPY . .
RUN cmake --preset release && cmake --build --preset release
# The release preset keeps debug information (RelWithDebInfo): stripped, the daemon goes from
# 121 MiB to 3.4 MiB and the emulator from 63 MiB to 2.1 MiB. The image needs none of it.
RUN strip --strip-all build/release/daemon/cml-reconciler build/release/emulator/cml-emulator

# What both images share: the shared libraries the binaries link (checked against the built
# binaries by tests/deploy/check_dockerfile.py), the system trust store for TLS to CML, and the
# numeric non-root user.
FROM ${RUNTIME_IMAGE} AS runtime-base
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

# The bundled CML emulator, for demos and tests against a cluster without CML. Never in the
# daemon's image.
FROM runtime-base AS emulator
COPY --from=build /src/build/release/emulator/cml-emulator /usr/local/bin/cml-emulator
USER 65532:65532
EXPOSE 9080
ENTRYPOINT ["cml-emulator"]
CMD ["--listen", "0.0.0.0:9080"]

# The daemon: the last stage, so the default target.
FROM runtime-base AS runtime
ARG RUNTIME_IMAGE
ARG VERSION=0.1.0
# docker build --build-arg REVISION="$(git rev-parse --short HEAD)" ...
ARG REVISION=unknown
LABEL org.opencontainers.image.title="cml-reconciler" \
      org.opencontainers.image.description="GitOps for Cloudera Machine Learning model endpoints" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.documentation="README.md, deploy/README.md and docs/runbooks.md of the source" \
      org.opencontainers.image.base.name="${RUNTIME_IMAGE}"
COPY --from=build /src/build/release/daemon/cml-reconciler /usr/local/bin/cml-reconciler
# Fails the image build when a runtime library is missing.
RUN ["/usr/local/bin/cml-reconciler", "version"]
# Numeric, so that Kubernetes can verify runAsNonRoot without a passwd lookup.
USER 65532:65532
# Where to mount the desired state by default. The API key file is not defaulted, so that
# CDSW_APIV2_KEY keeps working as the fallback design.md section 6 describes.
ENV CMLR_DESIRED=/desired
EXPOSE 9464
# Exec form: the daemon is PID 1 and receives SIGTERM itself (it exits within 10 s). The command
# is the CMD, so `docker run IMAGE validate /desired` (or plan, version, ...) works; Kubernetes
# `args` replace the CMD too (deploy/kubernetes names `run --listen 0.0.0.0:9464` again).
ENTRYPOINT ["cml-reconciler"]
CMD ["run", "--listen", "0.0.0.0:9464"]
