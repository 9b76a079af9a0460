# Airflow image for extractorov: the official Airflow 3.3.2 image (Python 3.11)
# plus the project's pinned dependencies. DAGs, the `extractorov` package
# (include/) and plugins are bind-mounted by docker-compose.yaml, not copied.
#
# requirements.txt pins apache-airflow==3.3.2 itself, i.e. exactly what this base
# image ships, so pip cannot up- or downgrade Airflow while installing the rest.
# tests/deploy/test_compose.py checks that the two versions stay equal.
FROM apache/airflow:3.3.2-python3.11

# The base image's default user; pip must run as `airflow`, never as root.
USER airflow

# WORKDIR of the base image is /opt/airflow (AIRFLOW_HOME).
COPY --chown=airflow:root requirements.txt requirements.txt
RUN pip install --no-cache-dir -r requirements.txt

# The `extractorov` package (include/extractorov), installed like any library so the
# image runs the DAGs with only dags/ mounted or copied. docker-compose.yaml also
# mounts include/ and puts it first on PYTHONPATH: local edits apply without a rebuild.
COPY --chown=airflow:root pyproject.toml /opt/airflow/src/pyproject.toml
COPY --chown=airflow:root include/extractorov /opt/airflow/src/include/extractorov
RUN pip install --no-cache-dir --no-deps /opt/airflow/src
