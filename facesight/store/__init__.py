"""The SQLite library database: schema, migrations, rows, audit log, reviews."""
