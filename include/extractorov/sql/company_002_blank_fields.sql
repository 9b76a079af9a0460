-- A request is loaded even when the bot left fecha blank or could read only a
-- placeholder SGC (PQR_4_ERROR): both columns are then NULL. Filled in by
-- warehouse.py like company_table.sql.
ALTER TABLE data_general.{table}
    ALTER COLUMN fecha DROP NOT NULL,
    ALTER COLUMN numero_reclamo_sgc DROP NOT NULL;
