# Lokaal Sparen in a container: the `loyalty` command (compose.yaml runs it as the
# web server and as the worker, beside PostgreSQL and Caddy). Nothing private is
# built in: DATABASE_URL, SECRET_KEY and PUBLIC_URL come from the environment when
# a container starts, and .dockerignore keeps .env, instance/ and databases out.
#
#   docker build -t lokaal-sparen .
#   docker run --rm -e DATABASE_URL=... -e SECRET_KEY=... -e PUBLIC_URL=... lokaal-sparen check

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY . /opt/lokaal-sparen/src
# Editable, as scripts/install-server.sh does: the migrations live beside the
# packages, not inside them. The translations are compiled here (*.mo are not in git).
RUN python -m venv /opt/lokaal-sparen/venv \
 && /opt/lokaal-sparen/venv/bin/pip install -e '/opt/lokaal-sparen/src[postgres]' \
 && /opt/lokaal-sparen/venv/bin/pybabel compile -d /opt/lokaal-sparen/src/loyalty/translations

FROM python:3.11-slim
# pg_dump and pg_restore for `loyalty backup` and `loyalty restore` on PostgreSQL.
RUN apt-get update \
 && apt-get install -y --no-install-recommends postgresql-client \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --uid 10001 --home-dir /var/lib/lokaal-sparen \
      --create-home --shell /usr/sbin/nologin lokaal-sparen \
 && install -d -o lokaal-sparen -g lokaal-sparen -m 0750 /var/backups/lokaal-sparen
COPY --from=build /opt/lokaal-sparen /opt/lokaal-sparen
ENV PATH=/opt/lokaal-sparen/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    FLASK_SKIP_DOTENV=1 \
    BACKUP_DIR=/var/backups/lokaal-sparen
USER lokaal-sparen
WORKDIR /var/lib/lokaal-sparen
EXPOSE 8000
ENTRYPOINT ["loyalty"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "4"]
