# kpm-collect in a container, for running it in the cluster (deploy/job.yaml).
#
# Build it from the repository root and push it where the cluster can pull:
#
#   docker build --build-arg KPM_GIT_COMMIT="$(git rev-parse --short HEAD)" \
#       -t ghcr.io/<your-org>/kpm-collect:0.1.0 .
#   docker push ghcr.io/<your-org>/kpm-collect:0.1.0
#
# then set that image in deploy/job.yaml. The runtime image is distroless
# (glibc and CA certificates, no shell), runs as the non-root user 65532 and
# holds one file: the collector, which is the entrypoint (Job args are its
# flags). Linted in CI with hadolint (.ci/run).

# Build stage: the toolchain the workspace declares (rust-version 1.89).
FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
ARG KPM_GIT_COMMIT=""
RUN KPM_GIT_COMMIT="${KPM_GIT_COMMIT}" cargo build --release --locked -p kpm-collector --bin kpm-collect \
    && install -D -m 0755 target/release/kpm-collect /out/kpm-collect

# Runtime stage: distroless with libgcc (Rust's unwinder needs it), non-root.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/kpm-collect /usr/local/bin/kpm-collect
USER 65532:65532
WORKDIR /out
ENTRYPOINT ["/usr/local/bin/kpm-collect"]
CMD ["--help"]
