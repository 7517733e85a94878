from sqlalchemy import text


def test_store_fixture_is_migrated(store):
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM architectures")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM cycle_metrics")).scalar() == 0
