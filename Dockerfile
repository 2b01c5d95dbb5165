# syntax=docker/dockerfile:1.7
# Operator image: the same binary runs the controller (`run`) and the snapshot executor inside Jobs (`executor`).
#
#   docker build -t ghcr.io/openbao-operator/openbao-operator:v0.1.0 .
#
# Needs BuildKit (default since Docker 23) for the cache mounts below.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# The whole workspace is copied because `--locked` resolves every member; .dockerignore keeps target/ and tools out.
COPY . .
# Cache mounts keep the crate registry and compiled dependencies between builds, so a source change recompiles only
# the workspace crates. The binary is copied out of the cached target dir within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --release --locked -p openbao-operator --bin openbao-operator \
    && install -D -m 0755 target/release/openbao-operator /out/openbao-operator

# glibc, not static musl: TLS goes through aws-lc-rs, whose C and assembly would need a musl C toolchain and
# care to link statically. distroless cc carries exactly the glibc and libgcc this bookworm build links against,
# plus CA certificates, and has no shell or package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=builder /out/openbao-operator /usr/local/bin/openbao-operator
# distroless `nonroot` user; the Deployment's securityContext pins the same uid.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/openbao-operator"]
CMD ["run"]
