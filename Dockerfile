# Multi-stage build: compile the server and the WASM dashboard, then ship a small runtime image.
FROM rust:1.95-bookworm AS build
WORKDIR /app
# wasm-opt 116 built from crates.io (Debian's binaryen 108 breaks hydration of release builds).
RUN rustup target add wasm32-unknown-unknown \
 && cargo install cargo-leptos@0.3.10 --locked \
 && cargo install wasm-opt@0.116.1 --locked
COPY Cargo.toml Cargo.lock ./
RUN cargo install wasm-bindgen-cli --version \
    "$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)"
COPY . .
RUN cargo leptos build --release --precompress

FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /app faultline \
 && mkdir -p /var/lib/faultline/spool && chown -R faultline /var/lib/faultline
WORKDIR /app
COPY --from=build /app/target/release/faultline /app/faultline
# The hashes of the JS, WASM and CSS file names, read from beside the binary.
COPY --from=build /app/target/release/hash.txt /app/hash.txt
COPY --from=build /app/target/site /app/site
ENV LEPTOS_SITE_ROOT=/app/site \
    LEPTOS_SITE_ADDR=0.0.0.0:3000 \
    LEPTOS_OUTPUT_NAME=faultline \
    FAULTLINE_SPOOL_DIR=/var/lib/faultline/spool \
    RUST_LOG=info
USER faultline
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 CMD curl -fsS http://127.0.0.1:3000/health || exit 1
CMD ["/app/faultline"]
