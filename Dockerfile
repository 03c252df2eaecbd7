# syntax=docker/dockerfile:1
# One image holding the project's four static binaries: tvm-broker, tvm-local,
# tvm-creds, tvm-sample. docker-compose.yml runs each service from it.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    go build -ldflags="-s -w" -o /out/ \
      ./broker/cmd/tvm-broker ./localaws/cmd/tvm-local ./client/cmd/tvm-creds ./sampleapp/cmd/tvm-sample

# distroless/static: no shell, no package manager, CA certificates and a
# non-root user (65532) only.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
COPY examples/ /etc/tvm/
USER 65532:65532
EXPOSE 4566 8080
ENTRYPOINT []
CMD ["tvm-broker", "--help"]
