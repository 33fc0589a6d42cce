# syntax=docker/dockerfile:1
# tend's container image: the static `tend` binary on distroless, as the
# non-root user 65532. tend needs no cgo (SQLite is modernc.org/sqlite, pure
# Go), so the binary has no libc to match.
#
#   docker build -t ghcr.io/tendhq/tend:dev --build-arg VERSION=$(git describe --tags --always --dirty) .
#
# The Helm chart in deploy/helm/tend runs it read-only with /tmp and the data
# directory /var/lib/tend as volumes (docs/deploy.md).

ARG GO_VERSION=1.26.8

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Modules first, so a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
ARG COMMIT=
ARG BUILD_DATE=
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X github.com/tendhq/tend/internal/cli.version=${VERSION} -X github.com/tendhq/tend/internal/cli.commit=${COMMIT} -X github.com/tendhq/tend/internal/cli.buildDate=${BUILD_DATE}" \
      -o /out/tend ./cmd/tend
# The data directory, owned by the user tend runs as, for a run without a
# volume (docker run); the chart mounts a volume there.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tend /usr/local/bin/tend
COPY --from=build --chown=65532:65532 /out/data /var/lib/tend
WORKDIR /var/lib/tend
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/tend"]
CMD ["serve", "--listen=:8080", "--data-dir=/var/lib/tend"]
