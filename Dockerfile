# One image for every process type (web, worker, release), as on a Heroku-style PaaS.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PORT=8000
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# Run as an unprivileged user: it owns only the data folders (STORAGE_DIR volume, the default storage/).
RUN useradd --create-home --uid 10001 wrangler && mkdir -p /data storage && chown wrangler /data storage
USER wrangler
EXPOSE 8000
# 0.0.0.0 inside the container: compose publishes it on the host's loopback (see docker-compose.yml).
CMD ["sh", "-c", "gunicorn --config gunicorn.conf.py --bind 0.0.0.0:${PORT} wsgi:app"]
