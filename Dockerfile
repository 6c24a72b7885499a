# The vecward image, for users with Docker (docs/kind.md):
#
#   docker build --build-arg VERSION=$(make -s version) -t vecward/vecward:$(make -s version) .
#
# `make image` builds the same root filesystem without Docker (the same
# tools/image/rootfs.sh) and is what the tests check (tests/image/test_image.sh).
#
# The final stage is FROM scratch: the three vecward programs, the shared
# libraries they link (Debian 12's), the dynamic loader, the CA bundle, an
# /etc/passwd with the nonroot user 65532, and an empty /tmp. No shell, no
# package manager, nothing runs as root. Nothing is written at runtime: run it
# with a read-only root filesystem; the webhook's --cert-dir (self-issued
# certificate) needs a writable volume (an emptyDir), nothing else does.
#
#   operator (the entrypoint):  vecward-operator [options]
#   webhook:                    command /usr/local/bin/vecward-webhook
#   files under a Cluster's keys: command /usr/local/bin/vecward-crypt

# ---- build ------------------------------------------------------------------------
FROM debian:12 AS build

# the libraries' -dev packages; their runtime halves are what the image carries
ARG BUILD_PKGS="build-essential pkg-config ca-certificates libcurl4-openssl-dev libssl-dev libyajl-dev libyaml-dev libevent-dev"
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $BUILD_PKGS \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# VERSION: what `--version` prints (there is no .git in the build context)
ARG VERSION=dev
# DEB_PKGS: the Makefile's dependency check looks for these only (it would
# otherwise install the test tools: clang, cmocka, ...)
RUN make DEB_PKGS="$BUILD_PKGS" VERSION="$VERSION" \
        bin/vecward-operator bin/vecward-webhook bin/vecward-crypt \
 && tools/image/rootfs.sh /rootfs bin/vecward-operator bin/vecward-webhook bin/vecward-crypt

# ---- the image --------------------------------------------------------------------
FROM scratch

ARG VERSION=dev
COPY --from=build /rootfs/ /

USER 65532:65532
WORKDIR /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENTRYPOINT ["/usr/local/bin/vecward-operator"]

LABEL org.opencontainers.image.title="vecward" \
      org.opencontainers.image.description="vecward operator and admission webhook for Milvus clusters on Kubernetes (vecward-operator, vecward-webhook, vecward-crypt)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.base.name="scratch"
