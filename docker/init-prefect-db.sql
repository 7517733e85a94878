-- Prefect's own database beside the results store, in the same PostgreSQL server.
CREATE DATABASE prefect OWNER nngpt;
