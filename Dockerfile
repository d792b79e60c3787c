# Pregón service image. Build: docker build -t pregon .
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY config config
COPY bench bench
RUN cargo build --release --locked && strip target/release/pregon

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /srv/pregon --create-home pregon
COPY --from=build /src/target/release/pregon /usr/local/bin/pregon
COPY config /srv/pregon/config
WORKDIR /srv/pregon
USER pregon
ENV PREGON_ENV=production
EXPOSE 8080
# The binary checks itself: Debian's /bin/sh (dash) has no /dev/tcp.
HEALTHCHECK --interval=30s --timeout=5s CMD ["pregon", "healthcheck"]
ENTRYPOINT ["pregon"]
CMD ["serve"]
