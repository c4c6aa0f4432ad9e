# Tierwise on Airflow: the apache/airflow image plus one virtual environment that
# holds exactly what uv.lock pins (Airflow, dbt, DuckDB, Great Expectations and the
# `tierwise` package). Every Airflow process in docker-compose.yml runs from it.
#
# Build: docker compose build   (or: docker build -t tierwise-airflow:local .)
#
# The lock covers everything, including the Celery executor of the scale-out
# workers (the `deploy` dependency group of pyproject.toml) and the `spark` extra:
# the Spark Connect client and dbt-spark, with which the workers run TIERWISE_ENGINE=spark
# against a Connect server (compose profile `spark`, or a cluster's). pyspark's wheel carries
# Spark's jars (some 400 MB), but the image has no Java: it is a client, never a Spark server.

ARG AIRFLOW_IMAGE=apache/airflow:slim-3.3.2-python3.11
FROM ${AIRFLOW_IMAGE}

# Same uv as the Makefile: uv.lock is read by the version that wrote it.
ARG UV_VERSION=0.13.8

ENV TIERWISE_VENV=/opt/tierwise/venv \
    UV_PROJECT_ENVIRONMENT=/opt/tierwise/venv \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON_PREFERENCE=only-system \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy

USER root
RUN mkdir -p /opt/tierwise/bin /opt/airflow/warehouse /opt/airflow/publish /opt/airflow/data \
    && chown -R airflow:0 /opt/tierwise /opt/airflow \
    && chmod -R g+rwX /opt/tierwise /opt/airflow
USER airflow

RUN pip install --no-cache-dir "uv==${UV_VERSION}"

WORKDIR /opt/airflow

# 1. Third-party dependencies, exactly as locked (cached until the lock changes).
COPY --chown=airflow:0 pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/home/airflow/.cache/uv,uid=50000,gid=0 \
    uv sync --frozen --no-dev --group deploy --extra spark --no-install-project

# 2. The project itself. `uv sync` installs `tierwise` in editable mode pointing at
#    /opt/airflow/plugins, so the folder bind-mounted there by compose is the code
#    that runs. The dev tooling (devtools/: generator, demo, bench) stays out: it is
#    not in the build context (.dockerignore), and the `tierwise-dev` script that the
#    project declares for checkouts is removed.
COPY --chown=airflow:0 README.md ./
COPY --chown=airflow:0 plugins/ plugins/
RUN --mount=type=cache,target=/home/airflow/.cache/uv,uid=50000,gid=0 \
    uv sync --frozen --no-dev --group deploy --extra spark \
    && rm -f /opt/tierwise/venv/bin/tierwise-dev

# 3. What the DAGs need at run time. Compose mounts the same folders over these
#    copies for development; without mounts the image is self-contained.
COPY --chown=airflow:0 dags/ dags/
COPY --chown=airflow:0 dbt_project/ dbt_project/
COPY --chown=airflow:0 expectations/ expectations/
COPY --chown=airflow:0 deploy/airflow-init.sh deploy/healthcheck.py /opt/tierwise/bin/

# The locked environment comes first on PATH: `airflow`, `celery`, `dbt`, `python`
# and `tierwise` all resolve to it, also inside the image's own entrypoint.
ENV PATH="/opt/tierwise/venv/bin:${PATH}" \
    VIRTUAL_ENV=/opt/tierwise/venv \
    TIERWISE_HOME=/opt/airflow

# Smoke test of the environment. A throw-away AIRFLOW_HOME keeps the airflow.cfg that
# Airflow writes on first use (with generated secrets) out of the image.
RUN AIRFLOW_HOME=/tmp/airflow-check airflow version \
    && AIRFLOW_HOME=/tmp/airflow-check python -c "import airflow.providers.celery, dbt.version, duckdb, great_expectations, tierwise" \
    && AIRFLOW_HOME=/tmp/airflow-check python -c "import dbt.adapters.spark, pyspark.sql.connect.session" \
    && ! python -c "import tierwise_dev" 2>/dev/null \
    && rm -rf /tmp/airflow-check
