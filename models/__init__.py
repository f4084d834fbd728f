"""The data model (SQLAlchemy 2 ORM), sessions, migrations, table import/export and the jobs
that connect the database to the pure cores in ``assign`` and ``scoring``."""
