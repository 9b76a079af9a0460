-- A request's numero_radicado is never blank: the parser refuses one (records.py), and the
-- table says so too, for rows written by hand or by another loader. It replaces the data
-- check that counted blank and repeated radicados over the whole table after every load
-- (the UNIQUE constraint already made a repeat impossible). NOT VALID: enforced for every
-- row written from now on, without failing the migration on an old hand-written row.
-- Filled in by warehouse.py like company_table.sql.
ALTER TABLE data_general.{table}
    ADD CHECK (btrim(numero_radicado) <> '') NOT VALID;
