# The gangsched image with docker and a registry (docker build -t ghcr.io/gangsched/gangsched:latest .).
# Not built by any test: `make image` builds the tested image without a registry (the binary make test
# ran plus the Debian 12 libraries it links, packaged with umoci) and `make image-test` runs it under
# runc (docs/install.md). Debian 12 and its packages, as scripts/install-deps.sh installs them.
FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libcpp-httplib-dev libssl-dev nlohmann-json3-dev libsimdjson-dev libboost-graph-dev \
      prometheus-cpp-dev libspdlog-dev libyaml-cpp-dev libexpected-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DGANGSCHED_BUILD_TESTS=OFF -DGANGSCHED_BUILD_BENCHMARKS=OFF \
 && cmake --build /build --target gangsched

# Only the shared libraries build/gangsched links (ldd, mapped to Debian 12 packages).
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcpp-httplib0.11 libssl3 libyaml-cpp0.7 libsimdjson14 libspdlog1.10 libfmt9 \
      libprometheus-cpp-core1.0 libbrotli1 zlib1g \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/gangsched /usr/local/bin/gangsched
# The deployment mounts its configuration (manifests/gangsched.yaml) at /etc/gangsched/; without it
# the defaults apply, which are the same values.
USER 65532:65532
EXPOSE 9464
ENTRYPOINT ["gangsched"]
CMD ["serve"]
