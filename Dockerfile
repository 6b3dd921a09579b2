# syntax=docker/dockerfile:1
#
# One Dockerfile, three images (docs/image.md explains each choice):
#   runtime  -> python-api          what the cluster runs: compiled JS + production dependencies (default target)
#   migrate  -> python-api-migrate  `prisma migrate deploy` for the db-migrate Job, engine baked in
#   dev      -> python-api (Tilt)   sources synced live by Tilt, restarted by `npm run dev`
#
# The build runs the npm scripts `npm test` and .ci/run run on every change (npm ci,
# generate, build), and prune commands that tests/image/build-steps.test.ts replays as
# written, so a green CI vouches for them. The one step CI cannot run is the schema-engine
# download (`prisma version`, stage engines): it needs the internet, and the build checks it.
# Only the migrate target sits on that stage: runtime and dev build without the engine.

# Slim Debian, not alpine: glibc keeps Prisma's schema engine and prebuilt native modules
# working, and the image is still ~80 MB compressed. Pinned to the patch release so a
# rebuild is reproducible; bump it deliberately (docs/image.md).
FROM node:24.21.0-bookworm-slim AS base
# uid/gid 10001, the ids the manifests run as (runAsUser/fsGroup): above the range a host
# gives its own users, so a container escape lands on nobody's account. The home folder
# is only used by npm in the dev target. Its cache folder exists before the deps stage
# mounts a build cache there: BuildKit would create a missing mount target owned by root,
# and the dev target's `npm ci` (Tilt's live update after a new lockfile) then stops with
# EACCES on /home/app/.npm/_cacache (seen on the real cluster, exit 243).
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app \
 && install -d -o app -g app /home/app/.npm
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false

# Prisma picks its schema engine by the OpenSSL it finds: without libssl it guesses
# openssl-1.1.x and fetches an engine that cannot run on bookworm. Only the stages that run
# the Prisma CLI get it; the runtime (pure-JS pg driver) does not.
FROM base AS prisma-base
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install --yes --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/*

# Every dependency, dev ones included, installed as the unprivileged app user so the dev
# target can reinstall in place when Tilt syncs a new lockfile.
FROM prisma-base AS deps
RUN chown 10001:10001 /app
USER 10001:10001
COPY --chown=10001:10001 package.json package-lock.json ./
RUN --mount=type=cache,target=/home/app/.npm,uid=10001,gid=10001 npm ci

# Only for the migrate target: the Prisma CLI fetches the schema engine for this platform
# into node_modules/@prisma/engines (`prisma version` makes sure the engines exist; this
# build machine has internet, the cluster and CI do not). The build stops here if the
# engine did not arrive. Only the Prisma files are copied, so editing the API's code never
# rebuilds the migrate image.
FROM deps AS engines
ENV CHECKPOINT_DISABLE=1
COPY --chown=10001:10001 prisma.config.ts ./
COPY --chown=10001:10001 apps/api/prisma ./apps/api/prisma
RUN node node_modules/prisma/build/index.js version \
 && ls node_modules/@prisma/engines/schema-engine-*

# Compile: `npm run generate` writes the Prisma client into the sources, `npm run build`
# compiles everything into dist/. Generating runs no engine (the wrapper script says so when
# none is installed), so this stage, and with it runtime and dev, never needs the download.
FROM deps AS build
COPY --chown=10001:10001 prisma.config.ts tsconfig*.json ./
COPY --chown=10001:10001 apps/api ./apps/api
RUN npm run generate \
 && npm run build

# Production dependencies only: drops the compiler, linters, test tools and the Prisma CLI.
# `--omit=optional` too: @prisma/client declares prisma and typescript as optional peers,
# which npm keeps under `--omit=dev` alone (363 MB instead of 107 MB, docs/image.md).
# @prisma/client ships a query compiler for every database it supports; the generated
# client loads only PostgreSQL's, so the others (55 MB) go.
FROM build AS prod-deps
RUN npm prune --omit=dev --omit=optional \
 && find node_modules/@prisma/client/runtime -name 'query_compiler_*' ! -name '*.postgresql.*' -delete

# The Prisma CLI is a devDependency; keep it (and its engine) but nothing else from dev.
FROM engines AS migrate-deps
RUN version="$(npm pkg get devDependencies.prisma | tr -d '"')" \
 && npm pkg delete devDependencies.prisma \
 && npm pkg set "dependencies.prisma=${version}" \
 && npm prune --omit=dev --omit=optional \
 && ls node_modules/@prisma/engines/schema-engine-*

# ---------------------------------------------------------------------------------------
# migrate: `prisma migrate deploy` against DATABASE_URL, run once per release by a Job.
FROM prisma-base AS migrate
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="python-api-migrate" \
      org.opencontainers.image.description="Applies the items API's Prisma migrations (prisma migrate deploy)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="node:24.21.0-bookworm-slim"
# No update checks or telemetry calls from inside the cluster.
ENV NODE_ENV=production \
    CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1
COPY --from=migrate-deps --chown=0:0 /app/node_modules ./node_modules
COPY --chown=0:0 package.json prisma.config.ts ./
COPY --chown=0:0 apps/api/prisma ./apps/api/prisma
USER 10001:10001
ENTRYPOINT ["node", "node_modules/prisma/build/index.js"]
CMD ["migrate", "deploy"]

# ---------------------------------------------------------------------------------------
# dev: Tilt's image. Tilt syncs apps/api into it and `npm run dev` restarts on change;
# a new lockfile reruns `npm ci`, a new schema `npm run generate` (see Tiltfile).
FROM build AS dev
ENV NODE_ENV=development
EXPOSE 5000 9464
CMD ["npm", "run", "dev"]

# ---------------------------------------------------------------------------------------
# runtime: what every API pod runs. Files belong to root and are read-only for the process.
# The last stage, so a plain `docker build .` (the plan's command) produces this image.
FROM base AS runtime
ARG VERSION=dev
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="python-api" \
      org.opencontainers.image.description="Items REST API (Express 5, Prisma 7, PostgreSQL)" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="node:24.21.0-bookworm-slim"
ENV NODE_ENV=production
COPY --from=prod-deps --chown=0:0 /app/node_modules ./node_modules
COPY --from=build --chown=0:0 /app/dist ./dist
COPY --chown=0:0 package.json ./
# Numeric, so Kubernetes' runAsNonRoot can verify it without reading /etc/passwd.
USER 10001:10001
EXPOSE 5000 9464
# node itself is PID 1 (no npm, no shell): SIGTERM reaches the server, which drains and
# exits (docs/image.md: why no tini).
ENTRYPOINT ["node", "dist/apps/api/src/server.js"]
