"""extractorov: Oficina Virtual PQR pipelines (afinia, aire) into PostgreSQL and S3."""
