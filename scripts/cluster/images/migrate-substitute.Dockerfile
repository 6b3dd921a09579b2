# SUBSTITUTE for the Dockerfile's `migrate` target, built by scripts/cluster/images.sh only
# where Prisma's native schema engine cannot be downloaded (so `prisma migrate deploy` cannot
# run). It is the runtime image (named context `python-api-runtime`, the image the API pods
# run) plus the migrations, running the repository's own migration runner: the same SQL files
# in the same order, recorded in `_prisma_migrations` as Prisma records them, under Prisma's
# advisory lock (apps/api/src/db/migrations.ts). docs/image.md explains the choice.
FROM python-api-runtime
LABEL org.opencontainers.image.title="python-api-migrate-substitute" \
      org.opencontainers.image.description="SUBSTITUTE for python-api-migrate: the repository's migration runner instead of prisma migrate deploy"
COPY --chown=0:0 apps/api/prisma/migrations ./apps/api/prisma/migrations
ENTRYPOINT ["node", "dist/apps/api/src/db/migrate-cli.js"]
