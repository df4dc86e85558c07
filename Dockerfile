# exotrace in a container. Not tested by CI (no Docker where the tests run): see docs/operations.md.
#
#   docker build -t exotrace .
#   docker run -d -v exotrace-state:/var/lib/exotrace \
#     -v "$PWD/exotrace.yaml:/etc/exotrace/exotrace.yaml:ro" --env-file exotrace.env exotrace

# --- build: compile better-sqlite3, build dist/, then keep only the runtime dependencies ---------
FROM node:20-bookworm-slim AS build
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# The README asks for npm 11 (the lockfile was written by it).
RUN npm install -g npm@11
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src ./src
# `npm ci` runs the `prepare` script, which builds dist/ with the development dependencies.
RUN npm ci && npm prune --omit=dev && npm cache clean --force

# --- runtime ------------------------------------------------------------------------------------
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
RUN groupadd --system --gid 10001 exotrace \
  && useradd --system --uid 10001 --gid exotrace --home-dir /var/lib/exotrace --shell /usr/sbin/nologin exotrace \
  && mkdir -p /var/lib/exotrace /etc/exotrace \
  && chown exotrace:exotrace /var/lib/exotrace \
  && chmod 0700 /var/lib/exotrace
USER exotrace
# The state (SQLite: checkpoints, seen-set, outbox): set `stateDir: /var/lib/exotrace` in the config.
VOLUME /var/lib/exotrace
# SIGTERM stops cleanly and flushes the outputs for up to 30 s: use `docker stop -t 45`.
STOPSIGNAL SIGTERM
# --max-semi-space-size=4: the flag of the exotrace binary's first line (src/cli/main.ts).
ENTRYPOINT ["node", "--max-semi-space-size=4", "dist/cli/main.js"]
CMD ["run", "--config", "/etc/exotrace/exotrace.yaml"]
