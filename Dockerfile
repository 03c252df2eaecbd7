# One image holding the project's four static binaries: tvm-broker, tvm-local,
# tvm-creds, tvm-sample. docker-compose.yml runs each service from it.
#
# Plain Dockerfile instructions only (no RUN --mount): it builds with the
# classic builder as well as with BuildKit, so `docker-compose up --build`
# works on a machine where BuildKit is off. Module downloads are cached as a
# layer (go.mod and go.sum are copied first); .dockerignore keeps bin/,
# node_modules and .git out of the context.

FROM golang:1.26-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0 GOFLAGS=-trimpath
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -ldflags="-s -w" -o /out/ \
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
