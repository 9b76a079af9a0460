-- One table per company (name from the company registry, never from input).
-- The table name, the company's extra columns and the index name are filled
-- in by warehouse.py with psycopg.sql identifiers; literal braces are doubled.
CREATE TABLE IF NOT EXISTS data_general.{table} (
    id                   bigserial   PRIMARY KEY,
    numero_radicado      text        NOT NULL UNIQUE,
    numero_reclamo_sgc   text        NOT NULL,
    fecha                timestamptz NOT NULL,
    estado_solicitud     text,
    tipo_pqr             text,
    nic                  text,
    documento_identidad  text,
    nombres_apellidos    text,
    correo_electronico   text,
    telefono             text,
    celular              text,
    lectura              text,
    canal_respuesta      text,
    documento_prueba     text,
    cuerpo_reclamacion   text,
    record_number        bigint,
    sgc_number           text,
    extraction_timestamp timestamptz,
    page_url             text,
    page_title           text,
    {extra_columns}
    extras               jsonb       NOT NULL DEFAULT '{{}}'::jsonb,
    hash_registro        text        NOT NULL,
    hash_contenido       text        NOT NULL,
    archivo_origen       text,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS {sgc_index} ON data_general.{table} (numero_reclamo_sgc);
