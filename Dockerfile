# whittle's own image: a prebuilt whittle on Debian 12, to run as one step per image in a CI
# job or a Kubernetes Job. Swift is not compiled here; scripts/image-context.sh makes the
# build context from a binary built on the same Debian release:
#
#   swift build -c release
#   scripts/image-context.sh .build/release/whittle /tmp/whittle-image
#   docker build -t whittle:latest /tmp/whittle-image
#   docker run --rm -v "$PWD:/work" -w /work whittle:latest slim app.tar -o app-slim.tar --profile safe
#
# BASE is any Debian 12 image; the tests pass a root made with mmdebstrap and `docker import`.
ARG BASE=debian:bookworm-slim
FROM ${BASE}

# The libraries whittle links from the system (libarchive brings libxml2 and ICU), and the
# CAs it trusts when it talks to a registry; apt.conf.d/ holds the build machine's settings
# for fetching (a mirror, a proxy), which scripts/image-context.sh copies.
COPY apt.conf.d/ /etc/apt/apt.conf.d/
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libarchive13 libseccomp2 libzstd1 zlib1g libstdc++6 ca-certificates \
    && apt-get clean && rm -rf /var/lib/apt/lists/*

# The binary, the Swift runtime at the path its RUNPATH names, and the profiles, which
# whittle finds in ../share/whittle/profiles beside its binary.
COPY rootfs/ /

ENTRYPOINT ["whittle"]
