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

# The `extractorov` package lives in include/extractorov (mounted at /opt/airflow/include).
ENV PYTHONPATH=/opt/airflow/include
