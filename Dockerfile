# Milestone: multi-stage build, non-root runtime, health checked on /health.
FROM python:3.11-slim AS build
WORKDIR /build
COPY requirements.txt .
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir -r requirements.txt

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    MILESTONE_BASE_PATH=/milestone-app \
    PORT=8501
RUN groupadd --system milestone && useradd --system --gid milestone --home-dir /app --shell /usr/sbin/nologin milestone
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY --chown=milestone:milestone milestone/ milestone/
COPY --chown=milestone:milestone views/ views/
COPY --chown=milestone:milestone sql/ sql/
COPY --chown=milestone:milestone app.py ./
COPY --chown=milestone:milestone .streamlit/ .streamlit/
USER milestone
EXPOSE 8501
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "milestone", "health", "--url", "http://127.0.0.1:8501/milestone-app/health"]
# Migrations run under the advisory lock (milestone.migrate), then the one ASGI server starts.
CMD ["sh", "-c", "python -m milestone migrate && exec python -m milestone serve --address 0.0.0.0 --port 8501"]
