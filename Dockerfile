# Build stage: compile the release binary.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin sentry-repro

# Runtime stage: git (the generator writes branches; `verify` runs git) and CA certificates.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /home/sentry-repro --shell /usr/sbin/nologin sentry-repro \
 && mkdir -p /var/lib/sentry-repro && chown sentry-repro /var/lib/sentry-repro
COPY --from=build /src/target/release/sentry-repro /usr/local/bin/sentry-repro
USER sentry-repro
WORKDIR /home/sentry-repro
# The webhook listens on every interface of the container (publish it, or put a TLS proxy in
# front). The read side (status page, /jobs/{id}, /metrics: event data) has its own port, published
# only to the host's loopback: `docker run -p 8080:8080 -p 127.0.0.1:8081:8081 ...` (docs/deploy.md).
# On 8080 those routes answer 401 unless SENTRY_REPRO_READ_TOKEN is set and sent.
ENV SENTRY_REPRO_LISTEN=0.0.0.0:8080 \
    SENTRY_REPRO_READ_LISTEN=0.0.0.0:8081 \
    SENTRY_REPRO_STATE_DIR=/var/lib/sentry-repro
EXPOSE 8080
ENTRYPOINT ["sentry-repro"]
CMD ["serve"]
