# syntax=docker/dockerfile:1
# kubevmm's two images (docs/images.md):
#   docker build --target operator -t kubevmm/operator .   the operator, the device plugin, the
#                                                           subresource server and the web console
#   docker build --target launcher -t kubevmm/launcher .   QEMU and the launcher, one pod per VM
# The base images are build arguments so that a registry mirror can stand in for Docker Hub:
#   --build-arg NODE_IMAGE=mirror.example/node:20-bookworm-slim
#   --build-arg DEBIAN_IMAGE=mirror.example/debian:bookworm-slim
# The launcher's base must stay Debian bookworm: its packages are bookworm's (QEMU 7.2) and the
# node binary copied from NODE_IMAGE is built for bookworm's glibc.

ARG NODE_IMAGE=node:20-bookworm-slim
ARG DEBIAN_IMAGE=debian:bookworm-slim

# --- build: the TypeScript sources into single-file ES modules (npm run bundle) ---
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund
COPY api/ api/
COPY operator/ operator/
COPY deviceplugin/ deviceplugin/
COPY launcher/ launcher/
COPY subresource/ subresource/
# ui/: the web console's server (dist/ui-server.mjs) and its browser app (dist/ui/, scripts/bundle-ui.ts).
COPY ui/ ui/
COPY scripts/bundle.ts scripts/bundle-ui.ts scripts/
RUN npm run bundle

# --- operator: the operator (default), the device plugin (command node /app/deviceplugin.mjs),
# the subresource server (command node /app/subresources.mjs) and the web console's server
# (command node /app/ui-server.mjs, serving the app's files from /app/ui): one Node image ---
FROM ${NODE_IMAGE} AS operator
WORKDIR /app
COPY --from=build /src/dist/operator.mjs /src/dist/operator.mjs.map /src/dist/deviceplugin.mjs /src/dist/deviceplugin.mjs.map /src/dist/subresources.mjs /src/dist/subresources.mjs.map /src/dist/ui-server.mjs /src/dist/ui-server.mjs.map /app/
COPY --from=build /src/dist/ui/ /app/ui/
# Nobody's UID; the chart runs the device plugin DaemonSet as root, the kubelet's socket needs it.
USER 65532:65532
ENTRYPOINT ["node", "/app/operator.mjs"]

# --- launcher: QEMU, its firmware, the ISO tool, static busybox, node and launcher.mjs ---
FROM ${DEBIAN_IMAGE} AS launcher
# The qemu user first, so that no package's system user can take UID/GID 107 (the launcher pod's
# runAsUser, operator/render/security.ts).
RUN groupadd --system --gid 107 qemu \
 && useradd --system --uid 107 --gid 107 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin qemu
# Unpinned on purpose: bookworm's security updates replace exact versions (DL3008).
#   qemu-system-x86     qemu-system-x86_64 (SeaBIOS, iPXE option ROMs come as dependencies)
#   qemu-system-common  qemu-storage-daemon, the NBD export of attachment pods (hotplugged PVCs)
#   qemu-utils          qemu-img: the importer (launcher import) inspects and converts images with it
#   xz-utils            xz: the importer decompresses .xz images while they download
#   nbdkit              its curl plugin serves an http(s) image to qemu-img as NBD: streamed, not copied to scratch first
#   ovmf                EFI firmware (launcher/qemu/firmware.ts: /usr/share/OVMF/*_4M.fd)
#   busybox-static      handed to containerDisk copy containers (operator/render/volumes.ts)
#   libstdc++6          the node binary links it
# hadolint ignore=DL3008
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      qemu-system-x86 \
      qemu-system-common \
      qemu-utils \
      xz-utils \
      nbdkit \
      ovmf \
      busybox-static \
      libstdc++6 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && mkdir -p /usr/lib/kubevmm \
 && ln -s /bin/busybox /usr/lib/kubevmm/busybox
COPY --from=build /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /src/dist/launcher.mjs /src/dist/launcher.mjs.map /app/
USER 107:107
# The operator's pod gives the arguments: run --vm ... (a VM), or import (an importer pod).
ENTRYPOINT ["node", "/app/launcher.mjs"]
