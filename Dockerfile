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
ENV SENTRY_REPRO_LISTEN=0.0.0.0:8080 \
    SENTRY_REPRO_STATE_DIR=/var/lib/sentry-repro
EXPOSE 8080
ENTRYPOINT ["sentry-repro"]
CMD ["serve"]
