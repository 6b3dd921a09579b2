# SUBSTITUTE for the Dockerfile's `migrate` target, for machines where Prisma's native schema
# engine cannot be downloaded (so `prisma migrate deploy` cannot run). The same migration
# files in the same order, recorded in `_prisma_migrations` as Prisma records them, under
# Prisma's advisory lock, by the repository's own runner (apps/api/src/db/migrations.ts),
# bundled into one file. Built by scripts/cluster/images.sh for the real-cluster suite and by
# Tilt with `tilt up -- --migrate-substitute`. docs/image.md explains the choice.
# Its inputs are the migrations and the runner only: editing the API's code changes nothing here.
FROM node:24.21.0-bookworm-slim AS bundle
WORKDIR /app
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
COPY package.json package-lock.json ./
# Only for esbuild (a dependency of tsx); the image keeps none of it.
RUN --mount=type=cache,target=/root/.npm npm ci
COPY tsconfig.json ./
COPY apps/api/src/config ./apps/api/src/config
COPY apps/api/src/db/migrations.ts apps/api/src/db/migrate-cli.ts ./apps/api/src/db/
# One ESM file with pg and zod inside; `require` for pg's CommonJS internals.
RUN node node_modules/esbuild/bin/esbuild apps/api/src/db/migrate-cli.ts \
      --bundle --platform=node --format=esm --target=node20 --external:pg-native \
      "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);" \
      --outfile=migrate.mjs

FROM node:24.21.0-bookworm-slim
ARG VERSION=dev
LABEL org.opencontainers.image.title="python-api-migrate-substitute" \
      org.opencontainers.image.description="SUBSTITUTE for python-api-migrate: the repository's migration runner instead of prisma migrate deploy" \
      org.opencontainers.image.version="${VERSION}"
WORKDIR /app
ENV NODE_ENV=production
COPY --from=bundle --chown=0:0 /app/migrate.mjs ./
COPY --chown=0:0 apps/api/prisma/migrations ./apps/api/prisma/migrations
USER 10001:10001
ENTRYPOINT ["node", "migrate.mjs"]
