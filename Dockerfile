# Airflow image for extractorov: the official Airflow 3.3.2 image (Python 3.11)
# plus the project's pinned dependencies and the `extractorov` package itself (with the
# stats page: its Airflow plugin is registered by the package's `airflow.plugins` entry
# point). DAGs are bind-mounted by docker-compose.yaml (or copied by a production build).
#
# As the official docker-stack docs extend the image with a requirements file: the same
# pip line names "apache-airflow==${AIRFLOW_VERSION}" (AIRFLOW_VERSION is set by the base
# image), so pip can never up- or downgrade Airflow while installing the rest.
# requirements.txt is the complete lock, resolved within Airflow's published constraints
# for this version and Python 3.11 (make lock; constraints/), i.e. the file the base image
# carries as ${HOME}/constraints.txt; tests/deploy checks the lock against it and that the
# image and requirements.txt name the same Airflow version.
FROM apache/airflow:3.3.2-python3.11

# The base image's default user; pip must run as `airflow`, never as root.
USER airflow

# WORKDIR of the base image is /opt/airflow (AIRFLOW_HOME).
COPY --chown=airflow:root requirements.txt requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r requirements.txt

# The `extractorov` package (include/extractorov), installed like any library: this
# installed copy is what the containers run (docker-compose.yaml sets no PYTHONPATH).
# Only the development file docker-compose.dev.yaml mounts include/ over it.
COPY --chown=airflow:root pyproject.toml /opt/airflow/src/pyproject.toml
# The package metadata names them (readme, license-files): the build reads both.
COPY --chown=airflow:root README.md LICENSE /opt/airflow/src/
COPY --chown=airflow:root include/extractorov /opt/airflow/src/include/extractorov
RUN pip install --no-cache-dir --no-deps /opt/airflow/src
