# syntax=docker/dockerfile:1
# countersign worker and CLI image.
#   docker build -t countersign .
#   docker run --rm countersign --help
# The default command is `worker`; docker-compose.yml runs the whole stack (docs/deploy.md).

# --- build: full dependency tree, then `npm run build`: dist/ (compiled JavaScript and declarations,
# the web inbox, the prebuilt workflow bundle), exactly what the npm package ships ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
# .dockerignore keeps node_modules, .countersign (local keys), dist and .git out of this copy.
COPY . .
RUN npm run build

# --- runtime: production dependencies and the compiled package, no TypeScript sources and no tsx
# (bin/countersign.js runs dist/ when the sources are absent) ---
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-old-space-size=768 \
    COUNTERSIGN_HOME=/var/lib/countersign \
    COUNTERSIGN_POLICY=/etc/countersign/policy.yaml \
    COUNTERSIGN_WORKFLOW_BUNDLE=/app/dist/workflow-bundle.js
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin/ bin/
COPY examples/ examples/
COPY --from=build /app/dist/ dist/

# Code stays root-owned and read-only to the service user; only COUNTERSIGN_HOME (keys + evidence)
# is writable. Creating it owned by uid 10001 before VOLUME makes a fresh named volume inherit
# that ownership.
RUN groupadd --system --gid 10001 countersign \
 && useradd --system --uid 10001 --gid countersign --home-dir /var/lib/countersign --shell /usr/sbin/nologin countersign \
 && mkdir -p /var/lib/countersign /var/lib/countersign-server /etc/countersign \
 && chown countersign:countersign /var/lib/countersign /var/lib/countersign-server \
 && chmod 0700 /var/lib/countersign /var/lib/countersign-server
USER countersign
VOLUME /var/lib/countersign

# Healthy when Temporal answers and the namespace exists (exit 0); non-zero otherwise.
HEALTHCHECK --interval=30s --timeout=15s --start-period=30s --retries=3 \
  CMD ["node", "bin/countersign.js", "status", "--quiet"]

ENTRYPOINT ["node", "bin/countersign.js"]
CMD ["worker"]
